"""Response headers that keep pages from being framed, sniffed or made to run foreign code.

Every script and stylesheet is a file under ``static/`` (data for scripts travels
in ``<script type="application/json">`` blocks, which do not run), so the
policy allows no inline code at all. The API's documentation page is the one
exception: its viewer starts from an inline script, so there inline code is
allowed, still only from this site.
"""
from __future__ import annotations

from flask import Flask, Response, request

def _policy(inline_code: bool = False) -> str:
    code = "'self' 'unsafe-inline'" if inline_code else "'self'"
    return "; ".join((
        "default-src 'self'",
        f"script-src {code}",
        f"style-src {code}",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ))


CONTENT_SECURITY_POLICY = _policy()
DOCS_POLICY = _policy(inline_code=True)

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    """Send the headers with every response; a view may set stricter ones of its own."""
    if app.config["PUBLIC_BASE_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    docs = getattr(app, "docs_path", None) or "/docs"

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy",
                                    DOCS_POLICY if request.path == docs else CONTENT_SECURITY_POLICY)
        return response
