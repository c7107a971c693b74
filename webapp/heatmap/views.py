"""The heatmap page and its JSON aggregation.

Staff of 交通局, the police and the district offices read the page; the city
dashboard reads the same aggregation as JSON with its bearer token. Filters come
from the query string, so the page's form works as a plain GET form and the
script only swaps what it shows.
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine.db import reading
from engine.errors import InvalidInput
from engine.models import Agency
from reports import heatmap

from .. import labels, services
from ..extensions import login_manager

bp = Blueprint("heatmap", __name__, url_prefix="/dashboard")

READER_ROLES = ("traffic_clerk", "police_clerk", "supervisor")
DASHBOARD_ROLE = "dashboard"
HOT_CELLS = 20
WEEKDAYS = [(1, _l("週一")), (2, _l("週二")), (3, _l("週三")), (4, _l("週四")), (5, _l("週五")),
            (6, _l("週六")), (7, _l("週日"))]
VEHICLE_LABELS = {"大貨車": _l("大貨車"), "聯結車": _l("聯結車"), "曳引車": _l("曳引車"),
                  "大客車": _l("大客車"), "特種車": _l("特種車")}


# -- who may read --------------------------------------------------------------

def _in_district_office(agency_code: str | None) -> bool:
    """A district office (區公所), or one of its sections (社會課…)."""
    if not agency_code:
        return False
    with reading(services.get().sessions) as s:
        agency = s.get(Agency, agency_code)
        parent = s.get(Agency, agency.parent_code) if agency and agency.parent_code else None
        return bool(agency) and (agency.kind == "district" or (parent is not None and parent.kind == "district"))


def _staff_reader() -> bool:
    if not (current_user.is_staff or "admin" in current_user.roles):
        return False
    return any(current_user.has_role(r) for r in READER_ROLES) or _in_district_office(current_user.agency_code)


@bp.app_context_processor
def _menu() -> dict:
    """``may_read_heatmap()`` for the site menu (base.html): asked only when a page draws the menu."""
    return {"may_read_heatmap": lambda: current_user.is_authenticated and _staff_reader()}


def _dashboard_system() -> bool:
    return current_user.kind == "system" and DASHBOARD_ROLE in current_user.roles


def _json_error(status: int, message: str, errors: dict | None = None):
    body = {"error": {401: "unauthorized", 403: "forbidden", 400: "invalid", 404: "not_found"}[status],
            "message": message}
    if errors is not None:
        body["errors"] = errors
    return jsonify(body), status


def _refusal(as_json: bool, allow_dashboard: bool = False):
    """The answer for someone who may not read the heatmap, or ``None`` when they may."""
    if not current_user.is_authenticated:
        if as_json:
            return _json_error(401, _("請先登入，或以儀表板的存取權杖呼叫。"))
        return login_manager.unauthorized()
    if _staff_reader() or (allow_dashboard and _dashboard_system()):
        return None
    if as_json:
        return _json_error(403, _("您沒有檢視熱區地圖的權限。"))
    abort(403)


# -- filters -------------------------------------------------------------------

def _filters() -> tuple[heatmap.Filters, dict[str, list[str]]]:
    """The filters in the query string, or no filters and the field errors."""
    try:
        return heatmap.parse_filters(request.args.to_dict(flat=False)), {}
    except InvalidInput as exc:
        return heatmap.Filters(), labels.messages(exc.errors)


def _invalid_json(errors: dict[str, list[str]]):
    return _json_error(400, _("篩選條件有誤，請依欄位說明修正。"), errors)


def _aggregate(filters: heatmap.Filters) -> dict:
    with reading(services.get().sessions) as s:
        found = heatmap.cells(s, filters)
        total = heatmap.total_permits(s, filters)
    return {"cells": [c._asdict() for c in found], "total_permits": total, "filters": filters.as_dict()}


# -- routes --------------------------------------------------------------------

@bp.get("/heatmap")
def page():
    refused = _refusal(as_json=False)
    if refused is not None:
        return refused
    filters, errors = _filters()
    data = _aggregate(filters) if not errors else {"cells": [], "total_permits": 0, "filters": filters.as_dict()}
    return render_template(
        "heatmap/page.html", data=data, hot=data["cells"][:HOT_CELLS], errors=errors,
        args=request.args, chosen_weekdays=set(request.args.getlist("weekday")),
        chosen_vehicles=set(request.args.getlist("vehicle")), weekdays=WEEKDAYS,
        vehicles=[(v, VEHICLE_LABELS.get(v, v)) for v in heatmap.VEHICLE_TYPES],
        districts=heatmap.districts(), query=request.query_string.decode(),
        cell_size_m=heatmap.CELL_SIZE_M, hot_limit=HOT_CELLS,
    ), (400 if errors else 200)


@bp.get("/heatmap.json")
def data():
    """{"cells": [{"cell", "lat", "lon", "permits", "district"}], "total_permits", "filters"}."""
    refused = _refusal(as_json=True, allow_dashboard=True)
    if refused is not None:
        return refused
    filters, errors = _filters()
    if errors:
        return _invalid_json(errors)
    return jsonify(_aggregate(filters))


@bp.get("/heatmap/cells/<cell>")
def cell(cell: str):
    """The permits through one cell: JSON for the page's script, a page of its own without it."""
    wants_json = request.accept_mimetypes.best == "application/json"
    refused = _refusal(as_json=wants_json)
    if refused is not None:
        return refused
    try:
        heatmap.parse_cell(cell)
    except ValueError:
        return _json_error(404, _("沒有這個網格。")) if wants_json else abort(404)
    filters, errors = _filters()
    back = url_for("heatmap.page") + (f"?{request.query_string.decode()}" if request.query_string else "")
    if errors:
        return _invalid_json(errors) if wants_json else redirect(back)
    with reading(services.get().sessions) as s:
        listing = heatmap.permits_in_cell(s, cell, filters)
    if wants_json:
        return jsonify(listing.as_dict())
    return render_template("heatmap/cell.html", listing=listing, back=back, vehicle_labels=VEHICLE_LABELS)
