"""Admin pages: incidents (outside calls that failed for good) and their retry; the care-referral routing table."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import audit, outbox
from engine.db import reading, transaction, utcnow
from engine.errors import InvalidInput
from engine.models import Agency, Case
from handlers import referrals

from .. import labels, services
from ..auth import current_actor, staff_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/incidents")
@staff_required("admin")
def incidents():
    with reading(services.get().sessions) as s:
        rows = outbox.open_incidents(s)
        numbers = dict(s.execute(select(Case.id, Case.number).where(
            Case.id.in_({i.case_id for i in rows if i.case_id}))).all())
    return render_template("admin/incidents.html", incidents=rows, numbers=numbers)


@bp.post("/incidents/<int:incident_id>/retry")
@staff_required("admin")
def retry(incident_id: int):
    actor = current_actor()
    try:
        with transaction(services.get().sessions) as s:
            outbox.retry(s, incident_id, actor.user_id, utcnow())
    except LookupError:
        abort(404)
    flash(_("已重新排入寄送，將由背景工作重試。"), "success")
    return redirect(url_for("admin.incidents"))


@bp.route("/referral-routes", methods=["GET", "POST"])
@staff_required("admin")
def referral_routes():
    """Which agency each care-referral category goes to; new referrals follow the table at once."""
    svc = services.get()
    actor = current_actor()
    errors: dict[str, list[str]] = {}
    chosen = None
    if request.method == "POST":
        chosen = {category: request.form.get(f"route-{i}", "") for i, category in enumerate(referrals.DEFAULT_ROUTES)}
        try:
            with transaction(svc.sessions) as s:
                changed = referrals.set_routes(s, chosen, actor.user_id, utcnow())
                if changed:
                    audit.append(s, "referral.routes", actor_id=actor.user_id, ip=actor.ip,
                                 detail={c: chosen[c] for c in changed})
        except InvalidInput as exc:
            errors = labels.messages(exc.errors)
        else:
            flash(_("已更新 %(n)d 個類別的承辦機關。", n=len(changed)) if changed else _("沒有變更。"), "success")
            return redirect(url_for("admin.referral_routes"))
    with reading(svc.sessions) as s:
        current = chosen or referrals.routes(s)
        agencies = s.execute(select(Agency.code, Agency.name).where(Agency.kind.in_(("bureau", "centre")))
                             .order_by(Agency.code)).all()
    return render_template("admin/referral_routes.html", routes=list(current.items()), agencies=agencies,
                           errors=errors), (422 if errors else 200)
