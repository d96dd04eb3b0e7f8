"""Messages out: customer e-mails and their templates, reminders, outgoing webhooks."""
