"""E-mail: messages rendered from a template per event and language, sent over SMTP by workers.

Settings come from the environment (``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_SECURITY`` =
none | starttls | ssl, ``SMTP_USERNAME``, ``SMTP_PASSWORD``, ``MAIL_FROM``). Each
message carries a Message-ID made from its outbox id, so a resend after an
unclear failure is recognisable as the same message.
"""
from __future__ import annotations

import base64
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from engine.outbox import Sender

TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"
LANGUAGES = ("zh_TW", "en")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined,
                   keep_trailing_newline=True)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    security: str = "none"           # none | starttls | ssl
    username: str | None = None
    password: str | None = None
    sender: str = "臺南市一站式服務 <no-reply@onestop.tainan.gov.tw>"
    timeout: float = 15.0

    @classmethod
    def from_env(cls) -> "SmtpSettings | None":
        host = os.environ.get("SMTP_HOST")
        if not host:
            return None
        security = os.environ.get("SMTP_SECURITY", "none")
        if security not in ("none", "starttls", "ssl"):
            raise ValueError("SMTP_SECURITY must be none, starttls or ssl")
        return cls(host=host, port=int(os.environ.get("SMTP_PORT", "465" if security == "ssl" else "25")),
                   security=security, username=os.environ.get("SMTP_USERNAME") or None,
                   password=os.environ.get("SMTP_PASSWORD") or None,
                   sender=os.environ.get("MAIL_FROM", cls.sender))


def render(event: str, locale: str, **params) -> tuple[str, str]:
    """(subject, body) of the event's template in the recipient's language (zh-TW by default).

    A template's first line is the subject; the body follows a blank line.
    """
    language = locale if locale in LANGUAGES else "zh_TW"
    text = _env.get_template(f"{event}.{language}.txt").render(**params)
    subject, _, body = text.partition("\n\n")
    return subject.strip(), body


def render_footer(locale: str, **params) -> str:
    """The lines every notice mail ends with: the unsubscribe link for its topic."""
    language = locale if locale in LANGUAGES else "zh_TW"
    return _env.get_template(f"_footer.{language}.txt").render(**params)


def message(settings: SmtpSettings, payload: dict) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = payload["to"]
    mail["Subject"] = payload["subject"]
    mail["Date"] = formatdate(localtime=False)
    domain = settings.sender.rsplit("@", 1)[-1].rstrip(">") if "@" in settings.sender else "onestop"
    mail["Message-ID"] = f"<outbox-{payload['outbox_id']}@{domain}>"
    if payload.get("unsubscribe"):
        mail["List-Unsubscribe"] = f"<{payload['unsubscribe']}>"
    mail.set_content(payload["body"])
    for item in payload.get("attachments", ()):
        main, _, sub = item["content_type"].partition("/")
        mail.add_attachment(base64.b64decode(item["data"]), maintype=main, subtype=sub,
                            filename=item["filename"])
    return mail


def smtp_sender(settings: SmtpSettings) -> Sender:
    """The outbox sender for ``email`` messages."""

    def send(payload: dict) -> None:
        mail = message(settings, payload)
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.password or "")
            client.send_message(mail)

    return send
