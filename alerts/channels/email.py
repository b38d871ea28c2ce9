"""E-mail over SMTP (``smtp://user:pass@host:port``, ``smtp+starttls://`` or ``smtps://``).

TLS (``smtps://``, ``smtp+starttls://``) verifies the server's certificate and host name
against the system's CA bundle, or ``ca_file`` (``FENWEI_ALERTS_SMTP_CA_FILE``); a server
that fails verification gets no credentials and no message.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from pathlib import Path
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from ..errors import DeliveryError, PermanentDeliveryError
from ._base import Channel, Delivery, Receipt


class EmailChannel(Channel):
    name = "email"

    def __init__(self, smtp_url: str, sender: str, timeout_s: float, *,
                 ca_file: Path | str | None = None) -> None:
        u = urlsplit(smtp_url)
        self.ca_file = str(ca_file) if ca_file else None
        self.scheme, self.host = u.scheme, u.hostname or "127.0.0.1"
        self.port = u.port or (465 if u.scheme == "smtps" else 25)
        self.user = unquote(u.username) if u.username else None
        self._password = unquote(u.password) if u.password else None
        self.sender, self.timeout = sender, timeout_s

    def __repr__(self) -> str:
        return f"EmailChannel({self.scheme}://{self.host}:{self.port})"

    def message(self, d: Delivery) -> EmailMessage:
        b = d.body
        lang = d.options.get("lang", "zh")
        first, second = (b["text_en"], b["text_zh"]) if lang == "en" else (b["text_zh"],
                                                                            b["text_en"])
        msg = EmailMessage()
        msg["Subject"] = first.split("。")[0].split(". ")[0][:120]
        msg["From"] = self.sender
        msg["To"] = ", ".join(d.options.get("to", []))
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{d.key}@fenwei.alerts>"
        msg["X-Fenwei-Idempotency-Key"] = d.key
        msg["X-Fenwei-Event"] = d.event
        if b.get("exercise"):
            msg["X-Fenwei-Exercise"] = "true"
        msg.set_content(f"{first}\n\n{second}\n\nalert: {b['alert_id']}\n")
        if b.get("cap"):
            msg.add_attachment(b["cap"].encode("utf-8"), maintype="application",
                               subtype="cap+xml", filename="alert.cap.xml")
        return msg

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verified (the default context)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def send(self, d: Delivery) -> Receipt:
        msg = self.message(d)
        try:
            if self.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=self.tls_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.scheme == "smtp+starttls":
                    smtp.starttls(context=self.tls_context())
                if self.user:
                    smtp.login(self.user, self._password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"recipients refused: {list(exc.recipients)}") from exc
        except smtplib.SMTPResponseException as exc:
            err = PermanentDeliveryError if 500 <= exc.smtp_code < 600 else DeliveryError
            raise err(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", status=exc.smtp_code) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"SMTP: certificate of {self.host} not trusted: "
                                f"{exc.verify_message}") from exc
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise PermanentDeliveryError(f"refused: {refused}")
        return Receipt(250, f"accepted by {self.host}:{self.port}")
