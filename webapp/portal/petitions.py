"""Opinions on a case (registered with 1999) and the member's link to their 1999 account."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.db import reading, transaction, utcnow
from engine.errors import Forbidden, InvalidInput
from engine.models import Case, PetitionLink
from handlers.petitions import opinions
from handlers.petitions.client import Client1999, LinkFailed, PetitionError, PetitionUnavailable

from .. import labels, services
from ..auth import current_actor
from .views import _case_context, _case_page, bp

LINK_SESSION_KEY = "link_1999"


@bp.post("/my/cases/<case_id>/opinions")
@login_required
def give_opinion(case_id: str):
    svc = services.get()
    actor = current_actor()
    with reading(svc.sessions) as s:
        record = svc.engine.visible_case(s, actor, case_id)
        category = record.service.category
    text = request.form.get("text", "")
    try:
        with transaction(svc.sessions) as s:
            opinions.give(s, actor, s.get(Case, case_id), text, request.form.get("confidential") == "1",
                          category=category, now=utcnow())
    except Forbidden:
        abort(403)
    except InvalidInput as exc:
        with reading(svc.sessions) as s:
            record = svc.engine.visible_case(s, actor, case_id)
            context = _case_context(s, record)
        return _case_page(record, 422, opinion_text=text, opinion_errors=labels.messages(exc.errors),
                          **context)
    flash(_("已收到您的意見，將登錄為 1999 陳情案件並轉請承辦機關回覆。"), "success")
    return redirect(url_for("portal.case", case_id=case_id) + "#opinions")


@bp.route("/my/1999", methods=["GET", "POST"])
@login_required
def link_1999():
    """Link a 1999 membership: a one-time code goes to the phone or e-mail 1999 has on record."""
    svc = services.get()
    actor = current_actor()
    if svc.petitions is None:
        abort(404)
    errors: dict[str, list[str]] = {}
    pending = session.get(LINK_SESSION_KEY)
    if request.method == "POST":
        step = request.form.get("step")
        try:
            with Client1999(svc.petitions) as client:
                if step == "start":
                    pending, errors = _start(client, errors)
                elif step == "confirm" and pending:
                    pending, errors = _confirm(client, actor.user_id, pending, errors)
                    if not errors:
                        flash(_("已連結 1999 會員帳號。"), "success")
                        return redirect(url_for("portal.link_1999"))
        except PetitionUnavailable:
            flash(_("1999 系統暫時無法連線，請稍後再試。"), "warning")
    with reading(svc.sessions) as s:
        link = s.get(PetitionLink, actor.user_id)
    cases, unavailable = [], False
    if link is not None:
        try:
            with Client1999(svc.petitions) as client:
                cases = client.member_requests(link.member_id, link.token)
        except PetitionError:
            unavailable = True
    demo = "sandbox_1999" in current_app.extensions
    return render_template("portal/link_1999.html", link=link, cases=cases, pending=pending, errors=errors,
                           unavailable=unavailable, form=request.form,
                           demo_outbox=url_for("portal.catalog") + "1999-sandbox/_test/outbox" if demo else None), \
        (422 if errors else 200)


def _start(client: Client1999, errors: dict) -> tuple[dict | None, dict]:
    member_id = request.form.get("member_id", "").strip()
    channel = request.form.get("channel", "")
    if not member_id:
        errors["member_id"] = [_("請輸入 1999 會員編號。")]
    if channel not in ("email", "sms"):
        errors["channel"] = [_("請選擇驗證碼寄送方式。")]
    if errors:
        return None, errors
    try:
        verification_id, destination = client.start_member_link(member_id, channel)
    except LinkFailed:
        return None, {"member_id": [_("查無此 1999 會員編號。")]}
    pending = {"member_id": member_id, "verification_id": verification_id, "destination": destination}
    session[LINK_SESSION_KEY] = pending
    return pending, errors


def _confirm(client: Client1999, user_id: str, pending: dict, errors: dict) -> tuple[dict | None, dict]:
    code = request.form.get("code", "").strip()
    if not code.isdigit() or len(code) != 6:
        return pending, {"code": [_("驗證碼為 6 位數字。")]}
    try:
        token = client.confirm_member_link(pending["verification_id"], code)
    except LinkFailed as exc:
        if exc.reason == "wrong_code":
            return pending, {"code": [_("驗證碼不正確，請再試一次。")]}
        session.pop(LINK_SESSION_KEY, None)
        return None, {"member_id": [_("驗證碼已失效，請重新取得。")]}
    with transaction(services.get().sessions) as s:
        link = s.get(PetitionLink, user_id) or PetitionLink(user_id=user_id)
        link.member_id, link.token, link.linked_at = pending["member_id"], token, utcnow()
        s.add(link)
    session.pop(LINK_SESSION_KEY, None)
    return None, errors


@bp.post("/my/1999/unlink")
@login_required
def unlink_1999():
    with transaction(services.get().sessions) as s:
        link = s.get(PetitionLink, current_actor().user_id)
        if link is not None:
            s.delete(link)
    flash(_("已取消連結 1999 會員帳號。"), "info")
    return redirect(url_for("portal.link_1999"))
