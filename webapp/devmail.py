"""The development mailbox: a real SMTP server on loopback that keeps what it receives.

``onestop run`` starts it and points the mail settings at it, so the worker
sends over SMTP exactly as in production; ``/dev/mailbox`` shows the messages.
Nothing here runs unless ``ONESTOP_DEV_MAILBOX`` names the mailbox file.
"""
from __future__ import annotations

import mailbox
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template

bp = Blueprint("devmail", __name__, url_prefix="/dev")
_lock = threading.Lock()


class MboxHandler:
    """aiosmtpd handler: append each message to an mbox file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        with _lock:
            box = mailbox.mbox(self.path)
            try:
                box.add(envelope.original_content or envelope.content)
                box.flush()
            finally:
                box.close()
        return "250 Message accepted for delivery"


def start(path: Path) -> tuple[str, int]:
    """Start the server on a free loopback port; returns (host, port)."""
    from aiosmtpd.controller import Controller

    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    Controller(MboxHandler(path), hostname="127.0.0.1", port=port).start()
    return "127.0.0.1", port


def messages(path: Path, limit: int = 100) -> list[EmailMessage]:
    if not path.exists():
        return []
    with _lock:
        box = mailbox.mbox(path)
        try:
            raw = [bytes(m) for m in box]
        finally:
            box.close()
    parsed = [message_from_bytes(r, policy=policy.default) for r in raw]
    return list(reversed(parsed))[:limit]


@bp.get("/mailbox")
def inbox():
    path = current_app.config.get("DEV_MAILBOX_PATH")
    if not path:
        abort(404)
    mails = [{"subject": m["Subject"], "to": m["To"], "date": m["Date"],
              "body": m.get_body(preferencelist=("plain",)).get_content()} for m in messages(Path(path))]
    return render_template("devmail/inbox.html", mails=mails)
