"""代辦: citizens authorise agents, agents accept with the serial, principals revoke."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import or_, select

from engine import agents, audit
from engine.calendar import TAIPEI
from engine.db import reading, transaction, utcnow
from engine.errors import InvalidInput
from engine.masking import mask_name
from engine.models import AgentAuthorization, Service

from .. import select_locale, services
from ..auth import current_actor

bp = Blueprint("agents", __name__, url_prefix="/my/agents")


def _citizen():
    actor = current_actor()
    if actor.kind != "citizen":
        abort(403)
    return actor


def _pepper() -> bytes:
    return services.get().engine.settings["agent_pepper"]


def _page(errors: dict | None = None, values: dict | None = None, preview=None, status: int = 200):
    actor = _citizen()
    with reading(services.get().sessions) as s:
        grants = s.scalars(select(AgentAuthorization).where(or_(
            AgentAuthorization.principal_id == actor.user_id, AgentAuthorization.agent_id == actor.user_id))
            .order_by(AgentAuthorization.created_at.desc())).all()
        catalog = s.execute(select(Service.key, Service.name).order_by(Service.name)).all()
    return render_template("agents/index.html", grants=grants, catalog=catalog, me=actor.user_id,
                           service_names=dict(catalog),
                           errors=errors or {}, values=values or {}, preview=preview,
                           mask_name=mask_name), status


@bp.get("")
@login_required
def index():
    return _page()


@bp.post("")
@login_required
def create():
    actor = _citizen()
    values = {"agent_national_id": request.form.get("agent_national_id", ""),
              "agent_birth_date": request.form.get("agent_birth_date", ""),
              "valid_until": request.form.get("valid_until", ""),
              "services": request.form.getlist("services")}
    try:
        with transaction(services.get().sessions) as s:
            grant = agents.authorize(s, actor, values["agent_national_id"], values["agent_birth_date"],
                                     values["services"], values["valid_until"], _pepper(),
                                     utcnow().astimezone(TAIPEI).date(), select_locale())
            audit.append(s, "agent.authorize", actor_id=actor.user_id, ip=actor.ip,
                         detail={"authorization": grant.id, "services": grant.services,
                                 "valid_until": grant.valid_until})
            serial = grant.serial
    except InvalidInput as exc:
        return _page(exc.errors, values, status=422)
    flash(_("已建立代辦授權。請將代辦序號 %(serial)s 交給代辦人，由代辦人登入後輸入並接受。", serial=serial),
          "success")
    return redirect(url_for("agents.index"))


@bp.post("/preview")
@login_required
def preview():
    _citizen()
    serial = request.form.get("serial", "")
    with reading(services.get().sessions) as s:
        grant = agents.pending_by_serial(s, serial, utcnow().astimezone(TAIPEI).date())
        if grant is None:
            return _page({"serial": [_("代辦序號不正確或已失效")]}, {"serial": serial}, status=422)
        names = dict(s.execute(select(Service.key, Service.name)).all())
        shown = {"serial": grant.serial, "principal": mask_name(grant.principal.display_name),
                 "services": [names.get(k, k) for k in grant.services], "valid_until": grant.valid_until}
    return _page(preview=shown)


@bp.post("/accept")
@login_required
def accept():
    actor = _citizen()
    serial = request.form.get("serial", "")
    try:
        with transaction(services.get().sessions) as s:
            grant = agents.accept(s, actor, serial, _pepper(), utcnow(),
                                  utcnow().astimezone(TAIPEI).date(), select_locale())
            audit.append(s, "agent.accept", actor_id=actor.user_id, on_behalf_of=grant.principal_id,
                         ip=actor.ip, detail={"authorization": grant.id})
    except InvalidInput as exc:
        return _page(exc.errors, {"serial": serial}, status=422)
    flash(_("已接受代辦授權，您現在可以代理申請人申辦。"), "success")
    return redirect(url_for("agents.index"))


@bp.post("/<grant_id>/revoke")
@login_required
def revoke(grant_id: str):
    actor = _citizen()
    with transaction(services.get().sessions) as s:
        grant = agents.revoke(s, actor, grant_id, utcnow())
        audit.append(s, "agent.revoke", actor_id=actor.user_id, ip=actor.ip,
                     detail={"authorization": grant.id})
    flash(_("已撤銷代辦授權。"), "success")
    return redirect(url_for("agents.index"))
