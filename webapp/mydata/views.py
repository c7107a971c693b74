"""MyData in the portal: consent redirect, the SP-API notify endpoint, the return page."""
from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from engine import agents, audit, drafts
from engine.db import reading, transaction, utcnow
from engine.masking import mask_name
from engine.models import Draft, MyDataRecord, MyDataTransaction, Service, User
from handlers.mydata import client
from handlers.mydata.datasets import RESOURCES

from .. import services, submissions
from ..auth import current_actor
from ..extensions import csrf

bp = Blueprint("mydata", __name__, url_prefix="/mydata")
log = logging.getLogger(__name__)

def _config():
    cfg = services.get().mydata
    if cfg is None:
        abort(404)
    return cfg


def messages() -> dict[str, tuple[str, str]]:
    """What the citizen reads for each outcome, and what to do next."""
    return {
        "ok": (_("已同意提供資料，正在下載。"), ""),
        "refused": (_("您未同意提供資料。"), _("請上傳相關證明文件，或重新以 MyData 帶入。")),
        "bad_request": (_("MyData 無法處理這次請求。"), _("請稍後再試，或上傳證明文件。")),
        "bad_client": (_("本服務的 MyData 設定有誤，已通知系統管理員。"), _("請先上傳證明文件。")),
        "no_scope": (_("本服務沒有取得這些資料的授權。"), _("請上傳證明文件。")),
        "return_url_mismatch": (_("回傳網址與登記資料不符，已通知系統管理員。"), _("請先上傳證明文件。")),
        "timeout": (_("MyData 作業逾時。"), _("請重新以 MyData 帶入。")),
        "wrong_person": (_("登入 MyData 的身分與申請人不同。"), _("請以申請人本人身分登入 MyData。")),
        "notify_failed": (_("資料傳送通知失敗。"), _("請稍後重新以 MyData 帶入。")),
        "service_disabled": (_("MyData 服務暫停中。"), _("請上傳證明文件，或稍後再試。")),
        "provider_failed": (_("資料提供機關目前無法提供資料。"), _("請上傳證明文件，或稍後再試。")),
        "unknown": (_("MyData 回傳了無法辨識的結果。"), _("請上傳證明文件。")),
        "expired": (_("資料已超過 MyData 的 8 小時保存期限。"), _("請重新以 MyData 帶入。")),
        "failed": (_("無法取得或驗證 MyData 資料。"), _("請上傳證明文件，或重新以 MyData 帶入。")),
    }


@bp.post("/start/<draft_id>")
@login_required
def start(draft_id: str):
    """Off to MyData, for the data subject only: the applicant, or the principal of an agent's draft."""
    cfg = _config()
    actor = current_actor()
    svc = services.get()
    with transaction(svc.sessions) as s:
        draft = s.get(Draft, draft_id)
        if draft is None or actor.user_id not in (draft.user_id, draft.principal_id):
            abort(404)
        if draft.principal_id and draft.principal_id != actor.user_id:
            abort(404)  # an agent cannot hand over their own records as the principal's
        if request.form and draft.user_id == actor.user_id:
            form = svc.engine.application_form(s, s.get(Service, draft.service_key))
            typed, uploads = submissions.read(form)
            drafts.save(s, actor, draft_id, typed, form, uploads)
        user = s.get(User, actor.user_id)
        resources = cfg.resources.get(draft.service_key)
        if not resources or not user.national_id:
            abort(404)
        tx_id = client.new_tx_id()
        now = utcnow()
        s.add(MyDataTransaction(tx_id=tx_id, user_id=user.id, subject_id=user.id,
                                service_key=draft.service_key, draft_id=draft.id,
                                resources=list(resources), status="redirected", created_at=now,
                                expires_at=now + cfg.download_window))
        audit.append(s, "mydata.request", actor_id=user.id, ip=actor.ip, purpose=draft.service_key,
                     detail={"tx_id": tx_id, "datasets": list(resources),
                             **({"for_agent": draft.user_id} if draft.principal_id else {})})
        url = client.authorization_url(cfg, tx_id, resources, user.national_id, draft.id)
    return redirect(url)


@bp.post("/ask/<draft_id>")
@login_required
def ask(draft_id: str):
    """An agent asks the principal to consent to MyData for the application they are filling in."""
    cfg = _config()
    actor = current_actor()
    with transaction(services.get().sessions) as s:
        draft = drafts.get(s, actor, draft_id)
        principal = s.get(User, draft.principal_id) if draft.principal_id else None
        resources = cfg.resources.get(draft.service_key)
        if principal is None or not principal.national_id or not resources:
            abort(404)
        service = s.get(Service, draft.service_key)
        agent = s.get(User, actor.user_id)
        agents.notify(s, principal.id, _("%(agent)s 代您申請「%(service)s」，請同意以 MyData 提供：%(names)s",
                                         agent=mask_name(agent.display_name), service=service.name,
                                         names="、".join(RESOURCES.get(r, r) for r in resources)),
                      url_for("mydata.consent", draft_id=draft.id))
        audit.append(s, "mydata.ask", actor_id=actor.user_id, on_behalf_of=principal.id, ip=actor.ip,
                     purpose=draft.service_key, detail={"draft_id": draft.id})
        name = mask_name(principal.display_name)
    flash(_("已通知 %(name)s 登入後同意以 MyData 提供資料；同意後資料會自動帶入這份申請。", name=name), "success")
    return redirect(url_for("portal.draft", draft_id=draft_id))


@bp.get("/consent/<draft_id>")
@login_required
def consent(draft_id: str):
    """What the principal is asked to consent to, and by whom, before going to MyData."""
    cfg = _config()
    actor = current_actor()
    with reading(services.get().sessions) as s:
        draft = drafts.for_principal(s, actor, draft_id)
        service = s.get(Service, draft.service_key)
        agent = mask_name(s.get(User, draft.user_id).display_name)
    names = [RESOURCES.get(r, r) for r in cfg.resources.get(draft.service_key, ())]
    return render_template("mydata/consent.html", draft_id=draft_id, service=service, agent=agent,
                           names=names)


@bp.post("/sp-api")
@csrf.exempt
def notify():
    """MyData's notify call: answer exactly 200 at once; the work happens in a worker."""
    cfg = _config()
    if cfg.sp_api_key:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given, cfg.sp_api_key):
            log.warning("mydata notify refused: bad API key")
            return {"error": "unauthorized"}, 401
    try:
        body = client.parse_notify(request.get_json(silent=True))
    except client.MyDataProtocolError as exc:
        log.warning("mydata notify refused: %s", exc)
        return {"error": "bad request"}, 400
    with transaction(services.get().sessions) as s:
        tx = s.get(MyDataTransaction, body.tx_id)
        if tx is None:
            log.warning("mydata notify for an unknown transaction refused")
            return {"error": "unknown transaction"}, 404
        if tx.permission_ticket is not None:
            return "", 200  # a repeat: already recorded, nothing changes
        if tx.status not in ("redirected", "authorized"):
            log.warning("mydata notify for a transaction in state %s refused", tx.status)
            return {"error": "transaction not pending"}, 409
        tx.permission_ticket = body.permission_ticket
        tx.secret_key = body.secret_key
        tx.unable_to_deliver = list(body.unable_to_deliver)
        tx.notified_at = utcnow()
        if tx.status == "authorized":
            tx.next_attempt_at = utcnow()
    return "", 200


@bp.get("/return")
@login_required
def back():
    cfg = _config()
    actor = current_actor()
    visit = client.parse_return(cfg, request.query_string.decode())
    with transaction(services.get().sessions) as s:
        tx = s.get(MyDataTransaction, visit.tx_id or "") if visit.tx_id else None
        if tx is None or tx.user_id != actor.user_id:
            abort(404)
        tx.return_code = visit.code
        if visit.code == 200 and tx.status == "redirected":
            tx.status = "authorized"
            tx.next_attempt_at = utcnow() if tx.permission_ticket else utcnow() + timedelta(seconds=5)
        elif visit.code != 200 and tx.status == "redirected":
            tx.status = visit.meaning
        tx_id = tx.tx_id
        after = _after(_for_agent(s, tx, actor.user_id), tx)
    if visit.code == 200:
        return redirect(url_for("mydata.transfer", tx_id=tx_id))
    message, step = messages().get(visit.meaning, messages()["unknown"])
    flash(f"{message}{step}", "warning")
    return redirect(after)


def _for_agent(s, tx: MyDataTransaction, user_id: str) -> bool:
    """Whether the transfer fills someone else's draft: a principal consenting for their agent."""
    draft = s.get(Draft, tx.draft_id) if tx.draft_id else None
    return draft is not None and draft.user_id != user_id


def _after(for_agent: bool, tx: MyDataTransaction) -> str:
    """Back to the application, or, for a principal who consented for an agent's draft, to their cases."""
    return url_for("portal.my_cases") if for_agent else url_for("portal.draft", draft_id=tx.draft_id)


@bp.get("/transfers/<tx_id>")
@login_required
def transfer(tx_id: str):
    actor = current_actor()
    with reading(services.get().sessions) as s:
        tx = s.get(MyDataTransaction, tx_id)
        if tx is None or tx.user_id != actor.user_id:
            abort(404)
        records = list(s.scalars(select(MyDataRecord).where(MyDataRecord.tx_id == tx_id)))
        for_agent = _for_agent(s, tx, actor.user_id)
    after = _after(for_agent, tx)
    if tx.status == "extracted" and for_agent:
        flash(_("已同意並提供資料，代辦人的申請表已帶入，原始資料已刪除。"), "success")
        return redirect(after)
    if tx.status == "extracted":
        refused = [r for r in records if not r.verified]
        names = "、".join(RESOURCES.get(r.resource_id, r.resource_id) for r in records if r.verified)
        flash(_("已由 MyData 帶入：%(names)s。請確認資料並補填其餘欄位。", names=names or "—"), "success")
        if refused or tx.unable_to_deliver:
            missing = {r.resource_id for r in refused} | set(tx.unable_to_deliver or [])
            flash(_("下列資料無法取得或未通過驗證，請改為上傳文件：%(names)s",
                    names="、".join(RESOURCES.get(r, r) for r in sorted(missing))), "warning")
        return redirect(url_for("portal.draft", draft_id=tx.draft_id))
    if tx.status in ("failed", "expired"):
        message, step = messages()[tx.status]
        flash(f"{message}{step}", "warning")
        return redirect(after)
    return render_template("mydata/waiting.html", tx=tx, after=after), 200, {"Refresh": "2"}

