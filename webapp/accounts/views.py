"""Sign-in, sign-out and the language switch."""
from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user, current_user
from sqlalchemy import select, update

from engine import audit, throttle
from engine.db import transaction
from engine.models import User

from .. import LOCALES, services
from ..auth import SessionUser, check_password

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None, default: str) -> str:
    """Only same-site paths, so the sign-in page cannot be used to redirect elsewhere."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _home_for(user: SessionUser) -> str:
    if user.is_staff:
        return url_for("workbench.inbox")
    return url_for("portal.my_cases")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("accounts/login.html", next=request.args.get("next"))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    svc = services.get()
    now = svc.engine.clock()
    name = throttle.tag(username, svc.engine.settings["throttle_pepper"])
    with transaction(svc.sessions) as s:
        user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
        user_id = user.id if user else None
        wait = throttle.sign_in_wait(s, name=name, user_id=user_id, ip=request.remote_addr, now=now,
                                     limits=current_app.config["SIGN_IN_LIMITS"])
        ok = not wait and check_password(user, password)
        result = throttle.THROTTLED if wait else "ok" if ok else throttle.FAILED
        audit.append(s, throttle.SIGN_IN, actor_id=user_id, ip=request.remote_addr, result=result, at=now,
                     detail=throttle.failure_detail(name) if result == throttle.FAILED else None)
        signed_in = SessionUser.from_user(user) if ok else None
    if wait:
        seconds = math.ceil(wait.total_seconds())
        error = _("登入失敗次數過多，請於 %(minutes)s 分鐘後再試。", minutes=math.ceil(seconds / 60))
        return render_template("accounts/login.html", error=error, username=username,
                               next=request.form.get("next")), 429, {"Retry-After": str(seconds)}
    if signed_in is None:
        return render_template("accounts/login.html", error=_("帳號或密碼錯誤"), username=username,
                               next=request.form.get("next")), 401
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    login_user(signed_in)
    return redirect(_safe_next(request.form.get("next"), _home_for(signed_in)))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        with transaction(services.get().sessions) as s:
            audit.append(s, "auth.sign_out", actor_id=current_user.id, ip=request.remote_addr)
    locale = session.get("locale")
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale
    return redirect(url_for("portal.catalog"))


@bp.get("/lang/<code>")
def language(code: str):
    if code in LOCALES:
        session["locale"] = code
        if current_user.is_authenticated:  # mail follows the language the member chose
            with transaction(services.get().sessions) as s:
                s.execute(update(User).where(User.id == current_user.id).values(locale=code))
    return redirect(_safe_next(request.args.get("next"), url_for("portal.catalog")))


from . import notices  # noqa: E402,F401 - registers the notice settings and unsubscribe routes
