"""Settings, from the environment with defaults that make ``make run`` work."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from engine.throttle import SignInLimits
from handlers.mail import SmtpSettings
from handlers.petitions.client import Settings1999

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("ONESTOP_INSTANCE", ROOT / "instance"))


def _secret_key() -> str:
    """A key kept under instance/ so sessions survive restarts without a committed secret."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def from_env() -> dict:
    return {
        "SECRET_KEY": _secret_key(),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'onestop.db'}"),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "FORMS_DIR": str(ROOT / "forms"),
        "BPMN_DIR": str(ROOT / "bpmn"),
        "MAX_CONTENT_LENGTH": 40 * 1024 * 1024,
        "MAX_ATTACHMENT_BYTES": 10 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "BABEL_DEFAULT_LOCALE": "zh_TW",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Taipei",
        "WTF_CSRF_TIME_LIMIT": None,
        "MYDATA_EMBEDDED_SANDBOX": os.environ.get("ONESTOP_MYDATA_SANDBOX", "1") == "1",
        "PETITION_1999": Settings1999.from_env(),
        "PETITION_1999_EMBEDDED_SANDBOX": os.environ.get("ONESTOP_1999_SANDBOX", "1") == "1",
        "WORKER_INTERVAL_SECONDS": float(os.environ.get("ONESTOP_WORKER_INTERVAL", "30")),
        "SMTP": SmtpSettings.from_env(),
        "DEV_MAILBOX_PATH": os.environ.get("ONESTOP_DEV_MAILBOX") or None,
        "SIGNATURE_TTL_MINUTES": float(os.environ.get("ONESTOP_SIGNATURE_TTL_MINUTES", "5")),
        # Reverse proxies in front of the app whose X-Forwarded-For / -Proto to believe (0: none), so
        # that sign-in throttling, rate limits and the audit trail see the client's address.
        "TRUSTED_PROXIES": int(os.environ.get("ONESTOP_TRUSTED_PROXIES", "0")),
        "SIGN_IN_LIMITS": SignInLimits(),
    }
