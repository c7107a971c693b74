"""The language switch: English from the compiled catalog, and back to Traditional Chinese."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CSRF_RE, ROOT

from .flow import text_of

PYBABEL = Path(sys.executable).with_name("pybabel")
HTML_LANG_RE = re.compile(r'<html lang="([^"]+)"')
NAV_RE = re.compile(r'<nav class="nav"[^>]*>(.*?)</nav>', re.S)


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """The .mo files are build output (git-ignored); make them so this module also runs alone."""
    command = [str(PYBABEL)] if PYBABEL.exists() else [sys.executable, "-m", "babel.messages.frontend"]
    result = subprocess.run([*command, "-q", "compile", "-d", "webapp/translations"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def html_lang(response) -> str:
    return HTML_LANG_RE.search(response.get_data(as_text=True)).group(1)


def nav(response) -> str:
    return text_of_html(NAV_RE.search(response.get_data(as_text=True)).group(1))


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_catalog_switches_to_english_and_back(app):
    http = app.test_client()

    page = http.get("/")
    assert html_lang(page) == "zh-Hant-TW"
    assert "服務目錄" in nav(page)
    assert ">搜尋</button>" in page.get_data(as_text=True)

    page = http.get("/lang/en", follow_redirects=True)
    assert page.status_code == 200 and page.request.path == "/"
    assert html_lang(page) == "en"
    assert "Services" in nav(page) and "服務目錄" not in nav(page)
    html = page.get_data(as_text=True)
    assert ">Search</button>" in html
    assert "<title>Services · Tainan One-Stop Services</title>" in html
    assert "Sign in" in text_of(page)

    page = http.get("/lang/zh_TW", follow_redirects=True)
    assert html_lang(page) == "zh-Hant-TW"
    assert "服務目錄" in nav(page) and "Services" not in nav(page)
    assert ">搜尋</button>" in page.get_data(as_text=True)


def test_switch_returns_to_the_page_it_was_used_on(app):
    http = app.test_client()
    page = http.get("/lang/en?next=/login", follow_redirects=True)
    assert page.request.path == "/login"
    assert html_lang(page) == "en"
    assert "<h1>Sign in</h1>" in page.get_data(as_text=True)


def test_login_error_follows_the_language(app):
    http = app.test_client()

    def failed_login():
        token = CSRF_RE.search(http.get("/login").get_data(as_text=True)).group(1)
        return http.post("/login", data={"username": "company", "password": "wrong",
                                         "csrf_token": token})

    http.get("/lang/en")
    response = failed_login()
    assert response.status_code == 401
    assert html_lang(response) == "en"
    assert "Incorrect username or password" in text_of(response)
    assert "帳號或密碼錯誤" not in text_of(response)

    http.get("/lang/zh_TW")
    response = failed_login()
    assert response.status_code == 401
    assert html_lang(response) == "zh-Hant-TW"
    assert "帳號或密碼錯誤" in text_of(response)


def test_staff_navigation_in_english(login):
    supervisor = login("tb.supervisor")
    page = supervisor.get("/lang/en", follow_redirects=True)
    menu = nav(page)
    assert "Inbox" in menu and "Case oversight" in menu
    assert "工作匣" not in menu and "案件管考" not in menu
    inbox = supervisor.get("/work/inbox")
    assert html_lang(inbox) == "en"
    assert "<h1>Inbox</h1>" in inbox.get_data(as_text=True)


def test_unknown_language_is_ignored(app):
    http = app.test_client()
    http.get("/lang/en")
    page = http.get("/lang/fr", follow_redirects=True)
    assert html_lang(page) == "en"
