"""The case's process diagram as data: the pinned BPMN and the stages to mark on it."""
from __future__ import annotations

from flask import jsonify
from flask_login import login_required
from sqlalchemy import select

from engine.db import reading
from engine.models import Definition
from reports import casefile

from .. import services
from ..auth import current_actor
from .views import bp


@bp.get("/my/cases/<case_id>/diagram.json")
@login_required
def case_diagram(case_id: str):
    """The BPMN XML of the definition the case pinned, with its current and finished stages."""
    svc = services.get()
    with reading(svc.sessions) as s:
        record = svc.engine.visible_case(s, current_actor(), case_id)
        xml = s.scalar(select(Definition.bpmn_xml).where(Definition.id == record.definition_id))
        state = casefile.diagram_state(s, record)
    response = jsonify({"xml": bytes(xml).decode("utf-8"), **state})
    response.headers["Cache-Control"] = "no-store"
    return response
