"""Every response forbids framing, sniffing and inline or foreign code; cookies are Secure on https."""
from __future__ import annotations

import re

from tests.conftest import make_app
from webapp import services

from .test_sign_in import PASSWORD, attempt


def test_pages_allow_code_only_from_this_site_and_cannot_be_framed(app):
    page = app.test_client().get("/")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy and "unsafe" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert app.test_client().get("/api/v1/services").headers["X-Content-Type-Options"] == "nosniff"


def test_the_api_documentation_loads_its_viewer_from_this_site(app):
    docs = app.test_client().get("/api/v1/docs")
    assert docs.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.get_data(as_text=True))
    assert sources and all(s.startswith("/static/vendor/swagger-ui/") for s in sources), sources
    for source in sources:
        assert app.test_client().get(source).status_code == 200, source
    policy = docs.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline'" in policy and "http" not in policy


def test_the_session_cookie_is_secure_when_the_site_is_served_over_https(seeded_database_url, tmp_path):
    app = make_app(seeded_database_url, tmp_path, {"PUBLIC_BASE_URL": "https://onestop.example.gov.tw"},
                   seeded=True)
    try:
        signed_in = attempt(app.test_client(), "company", PASSWORD)
        assert signed_in.status_code == 302
        cookie = signed_in.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        with app.app_context():
            services.get().db.dispose()
