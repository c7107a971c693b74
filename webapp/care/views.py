"""The care management centre's schedule: publish assessment slots, see who booked which."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import audit
from engine.db import reading, transaction, utcnow
from engine.errors import InvalidInput
from handlers import care

from .. import labels, services
from ..auth import current_actor, staff_required

bp = Blueprint("care", __name__, url_prefix="/care")
CENTRE_ROLES = ("care_clerk", "care_assessor", "admin")


def _centre_staff():
    actor = current_actor()
    if actor.agency_code != care.CARE_CENTRE and not actor.is_admin:
        abort(403)
    return actor


def _page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    now = utcnow()
    with reading(services.get().sessions) as s:
        rows = care.schedule(s, now)
        people = care.assessors(s)
        names = {u.id: u.display_name for u in people}
    return render_template("care/slots.html", rows=rows, assessors=people, names=names,
                           errors=errors or {}, values=values or {"minutes": "90", "weeks": "1"},
                           label=care.slot_label), status


@bp.get("/slots")
@staff_required(*CENTRE_ROLES)
def slots():
    _centre_staff()
    return _page()


@bp.post("/slots")
@staff_required(*CENTRE_ROLES)
def publish():
    actor = _centre_staff()
    fields = {k: request.form.get(k, "").strip() for k in ("assessor", "date", "start", "minutes", "weeks")}
    try:
        with transaction(services.get().sessions) as s:
            added = care.publish_slots(s, fields, utcnow())
            audit.append(s, "care.slots_publish", actor_id=actor.user_id, ip=actor.ip,
                         detail={"assessor": fields["assessor"], "slots": [x.id for x in added]})
    except InvalidInput as exc:
        return _page(labels.messages(exc.errors), fields, status=422)
    flash(_("已開放 %(n)d 個評估時段。", n=len(added)), "success")
    return redirect(url_for("care.slots"))


@bp.post("/slots/<slot_id>/withdraw")
@staff_required(*CENTRE_ROLES)
def withdraw(slot_id: str):
    actor = _centre_staff()
    try:
        with transaction(services.get().sessions) as s:
            care.withdraw_slot(s, slot_id)
            audit.append(s, "care.slot_withdraw", actor_id=actor.user_id, ip=actor.ip,
                         detail={"slot": slot_id})
    except InvalidInput as exc:
        flash(labels.messages(exc.errors)["slot"][0], "error")
        return redirect(url_for("care.slots"))
    flash(_("已撤下時段。"), "success")
    return redirect(url_for("care.slots"))
