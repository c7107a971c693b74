"""臨櫃: a counter clerk starts an application with the citizen's MyData barcode and OTP."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import audit
from engine.db import reading, transaction, utcnow
from engine.models import MyDataTransaction, Service
from handlers.mydata import client

from .. import services
from ..auth import current_actor, staff_required

bp = Blueprint("counter", __name__, url_prefix="/counter")


def _config():
    cfg = services.get().mydata
    if cfg is None:
        abort(404)
    return cfg


def _mine(tx_id: str) -> MyDataTransaction:
    with reading(services.get().sessions) as s:
        tx = s.get(MyDataTransaction, tx_id)
    if tx is None or tx.mode != "counter" or tx.user_id != current_actor().user_id:
        abort(404)
    return tx


@bp.route("", methods=["GET", "POST"])
@staff_required("counter_clerk")
def start():
    cfg = _config()
    with reading(services.get().sessions) as s:
        catalog = [(k, n) for k, n in s.execute(select(Service.key, Service.name)) if k in cfg.resources]
    if request.method == "GET":
        return render_template("counter/start.html", catalog=catalog, errors={})
    barcode = request.form.get("barcode", "").strip().upper()
    service_key = request.form.get("service", "")
    errors = {}
    if len(barcode) != 8 or not barcode.isalnum():
        errors["barcode"] = [_("條碼為 8 碼英數字")]
    if service_key not in dict(catalog):
        errors["service"] = [_("請選擇服務")]
    if not errors:
        answer = client.counter_request_otp(cfg, barcode)
        if answer.status != "sent":
            errors["barcode"] = [{"unknown": _("條碼不存在或已逾 20 分鐘有效期限，請民眾重新下載。"),
                                  "locked": _("密碼錯誤次數過多，已鎖定 15 分鐘。")}.get(
                answer.status, _("MyData 暫時無法處理，請稍後再試。"))]
    if errors:
        return render_template("counter/start.html", catalog=catalog, errors=errors,
                               barcode=barcode, service=service_key), 422
    actor = current_actor()
    now = utcnow()
    tx_id = client.new_tx_id()
    with transaction(services.get().sessions) as s:
        s.add(MyDataTransaction(tx_id=tx_id, mode="counter", user_id=actor.user_id, service_key=service_key,
                                resources=list(cfg.resources[service_key]), status="otp_sent",
                                barcode=barcode, created_at=now, expires_at=now + cfg.download_window))
        audit.append(s, "mydata.counter", actor_id=actor.user_id, ip=actor.ip, purpose=service_key,
                     detail={"tx_id": tx_id})
    return redirect(url_for("counter.otp", tx_id=tx_id))


@bp.route("/<tx_id>/otp", methods=["GET", "POST"])
@staff_required("counter_clerk")
def otp(tx_id: str):
    tx = _mine(tx_id)
    if request.method == "GET":
        return render_template("counter/otp.html", tx=tx, errors={})
    code = request.form.get("otp", "").strip()
    if len(code) != 8 or not code.isdigit():
        return render_template("counter/otp.html", tx=tx, errors={"otp": [_("一次性密碼為 8 位數字")]}), 422
    with transaction(services.get().sessions) as s:
        row = s.get(MyDataTransaction, tx_id)
        if row.status not in ("otp_sent", "otp_wrong"):
            abort(409)
        row.otp, row.status, row.next_attempt_at = code, "authorized", utcnow()
    return redirect(url_for("counter.waiting", tx_id=tx_id))


@bp.get("/<tx_id>")
@staff_required("counter_clerk")
def waiting(tx_id: str):
    tx = _mine(tx_id)
    if tx.status == "extracted" and tx.draft_id:
        flash(_("已取得民眾的 MyData 資料並帶入申請表，請與民眾確認後補齊其餘欄位。"), "success")
        return redirect(url_for("portal.draft", draft_id=tx.draft_id))
    if tx.status == "otp_wrong":
        flash(_("一次性密碼錯誤（%(detail)s），請民眾再確認簡訊。", detail=tx.last_error or ""), "error")
        return redirect(url_for("counter.otp", tx_id=tx_id))
    if tx.status in ("failed", "expired", "extracted"):
        flash(_("無法取得 MyData 資料，請改以紙本或上傳文件受理。"), "error")
        return redirect(url_for("counter.start"))
    return render_template("counter/waiting.html", tx=tx), 200, {"Refresh": "2"}
