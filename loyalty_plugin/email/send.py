"""Sending: the MIME message, and the SMTP adapter behind a one-method interface.

:class:`EmailSender` is all the send job needs; :class:`SmtpSender` implements it with
:mod:`smtplib` (plain, STARTTLS or implicit TLS, optional login), keeping one connection
for a batch. A plugin can provide another sender (an HTTP mail API) instead.

A refusal with a 5xx code is permanent (:class:`PermanentFailure`, not retried); anything
else (4xx, a dropped connection, a timeout) is worth another try later.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from types import TracebackType
from typing import Any, Protocol

from loyalty_plugin.email.render import RenderedEmail

#: ``LOYALTY_SMTP_TLS`` values.
TLS_MODES = ("none", "starttls", "ssl")


class PermanentFailure(Exception):
    """The server refused the message for good (a 5xx answer): do not retry."""


class EmailSender(Protocol):
    """Anything that can hand a message to a mail system."""

    def send(self, message: EmailMessage) -> None:
        """Send ``message``; raise :class:`PermanentFailure` or any error to retry later."""

    def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """The ``LOYALTY_SMTP_*`` and ``LOYALTY_MAIL_FROM`` configuration."""

    host: str | None
    port: int = 587
    tls: str = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    mail_from: str = "loyalty@localhost"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        tls = str(config.get("LOYALTY_SMTP_TLS") or "none").lower()
        if tls not in TLS_MODES:
            raise ValueError(f"LOYALTY_SMTP_TLS must be one of {', '.join(TLS_MODES)}")
        return cls(
            host=config.get("LOYALTY_SMTP_HOST") or None,
            port=int(config.get("LOYALTY_SMTP_PORT") or 587),
            tls=tls,
            username=config.get("LOYALTY_SMTP_USERNAME") or None,
            password=config.get("LOYALTY_SMTP_PASSWORD") or None,
            timeout=float(config.get("LOYALTY_SMTP_TIMEOUT_SECONDS") or 30),
            mail_from=str(config.get("LOYALTY_MAIL_FROM") or "loyalty@localhost"),
        )


class SmtpSender:
    """Sends over one SMTP connection, opened on first use; use it as a context manager."""

    def __init__(self, settings: SmtpSettings) -> None:
        if not settings.host:
            raise ValueError("LOYALTY_SMTP_HOST is not set")
        self.settings = settings
        self.host: str = settings.host
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        try:
            self._connection().send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            self.close()
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {error.recipients}") from error
            raise
        except smtplib.SMTPResponseException as error:
            self.close()
            if error.smtp_code >= 500:
                raise PermanentFailure(f"{error.smtp_code} {error.smtp_error!r}") from error
            raise
        except (smtplib.SMTPException, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            s = self.settings
            if s.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self.host, s.port, timeout=s.timeout)
                if s.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            self._smtp = smtp
        return self._smtp


def new_message_id(mail_from: str) -> str:
    """A ``Message-ID`` in the sender's domain, made once per message and kept for retries."""
    domain = mail_from.rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


@dataclass(frozen=True, kw_only=True)
class Envelope:
    """Who a message is from and to, and its headers."""

    sender_name: str
    mail_from: str
    to: str
    message_id: str
    reply_to: str | None = None
    #: For marketing e-mails: the unsubscribe URL (``List-Unsubscribe``, one click).
    unsubscribe_url: str | None = None


def build_message(rendered: RenderedEmail, envelope: Envelope, *, sent_at: Any) -> EmailMessage:
    """A ``multipart/alternative`` message with the text part first and the HTML part."""
    message = EmailMessage()
    message["Subject"] = " ".join(rendered.subject.split())
    username, _, domain = envelope.mail_from.rpartition("@")
    message["From"] = Address(" ".join(envelope.sender_name.split()), username, domain)
    message["To"] = envelope.to
    message["Message-ID"] = envelope.message_id
    message["Date"] = format_datetime(sent_at)
    if envelope.reply_to:
        message["Reply-To"] = envelope.reply_to
    if envelope.unsubscribe_url:
        # RFC 8058: mail clients may unsubscribe with one POST to this URL.
        message["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
