"""E-mail: default templates, sandboxed rendering, the outbox and the SMTP adapter.

* :mod:`.templates`: the default templates and the variables each may use;
* :mod:`.render`: the Jinja sandbox, checking an edit, locale-aware filters;
* :mod:`.context`: template data stored as JSON in the outbox and read back typed;
* :mod:`.links`: the links e-mails carry (portal, signed unsubscribe link);
* :mod:`.outbox`: queueing messages in the caller's transaction, claiming and recording
  attempts;
* :mod:`.send`: building the MIME message and sending it over SMTP.
"""
