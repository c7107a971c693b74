"""Large-vehicle permits: issuing, renewal data and public verification."""
from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import TAIPEI
from engine.cases import HandlerContext
from engine.masking import mask_id
from engine.models import Agency, Permit

from .permit_pdf import PermitDocument, render_permit_pdf

DEFAULT_CONDITIONS = "應依核准路線、日期及時段行駛。"


def issue(ctx: HandlerContext, conditions: str | None = None, *,
          listeners: Sequence[Callable[[Session, Permit], object]] = ()) -> dict:
    """Service task ``permit.issue``: record the permit; the PDF is rendered from this row."""
    application = ctx.task_data["application"]
    previous = ctx.task_data.get("previous") or {}
    agency = ctx.session.get(Agency, ctx.case.owner_agency)
    permit = Permit(
        number=ctx.case.number,
        case_id=ctx.case.id,
        verify_token=secrets.token_urlsafe(32),
        holder_name=application["applicant"]["name"],
        holder_id=mask_id(application["applicant"]["id_no"]),
        vehicles=[{k: v.get(k) for k in ("plate", "type", "gross_weight")}
                  for v in application["vehicles"]],
        route_segments=[route_segment(s) for s in application["route_segments"]],
        time_windows=application["time_windows"],
        conditions=[line.strip() for line in (conditions or DEFAULT_CONDITIONS).splitlines()
                    if line.strip()],
        valid_from=application["period"]["start_date"],
        valid_to=application["period"]["end_date"],
        issuing_agency=agency.name if agency else ctx.case.owner_agency,
        issued_at=ctx.now,
        renewal_of=previous.get("permit_no"),
    )
    ctx.session.add(permit)
    ctx.session.flush()
    for listener in listeners:
        listener(ctx.session, permit)
    return {"number": permit.number}


def route_segment(segment: dict) -> dict:
    """What a permit keeps of a route segment; ``path`` (GeoJSON) only when the route was drawn on the map."""
    kept = {k: segment.get(k) for k in ("from", "to", "roads", "districts")}
    if segment.get("path"):
        kept["path"] = segment["path"]
    return kept


def vehicle_keys(vehicles: list[dict]) -> list[str]:
    """What "the same vehicles" means for a renewal: plate and type, order ignored."""
    return sorted(f"{v['plate']}/{v['type']}" for v in vehicles)


def renewal_data(permit: Permit, application: dict) -> tuple[dict, dict]:
    """(prefilled application, extra case data) for extending or renewing ``permit``."""
    prefill = {k: v for k, v in application.items() if k not in ("period", "attachments")}
    previous = {
        "permit_no": permit.number,
        "case_id": permit.case_id,
        "route_segments": application["route_segments"],
        "vehicle_keys": vehicle_keys(application["vehicles"]),
    }
    return prefill, {"previous": previous}


def document_for(permit: Permit, verify_url: str) -> PermitDocument:
    return PermitDocument(
        permit_no=permit.number,
        holder_name=permit.holder_name,
        holder_id_masked=permit.holder_id,
        vehicles=permit.vehicles,
        route_segments=permit.route_segments,
        valid_from=date.fromisoformat(permit.valid_from),
        valid_to=date.fromisoformat(permit.valid_to),
        time_windows=permit.time_windows,
        conditions=permit.conditions,
        issuing_agency=permit.issuing_agency,
        issued_on=permit.issued_at.astimezone(TAIPEI).date(),
        verify_url=verify_url,
        renewal_of=permit.renewal_of,
    )


def render(permit: Permit, verify_url: str) -> bytes:
    return render_permit_pdf(document_for(permit, verify_url))


@dataclass(frozen=True)
class Verification:
    """What the public verification page may show: nothing personal beyond plates and route."""

    status: str  # valid, outside_hours, not_yet_valid, expired, revoked
    number: str
    plates: list[str]
    vehicle_types: list[str]
    route_segments: list[dict]
    valid_from: str
    valid_to: str
    time_windows: list[dict]
    checked_at: datetime

    @property
    def valid_now(self) -> bool:
        return self.status == "valid"


def verify(session: Session, token: str, now: datetime) -> Verification | None:
    permit = session.scalar(select(Permit).where(Permit.verify_token == token))
    if permit is None:
        return None
    local = now.astimezone(TAIPEI)
    return Verification(
        status=_status(permit, local),
        number=permit.number,
        plates=[v["plate"] for v in permit.vehicles],
        vehicle_types=[v["type"] for v in permit.vehicles],
        route_segments=permit.route_segments,
        valid_from=permit.valid_from,
        valid_to=permit.valid_to,
        time_windows=permit.time_windows,
        checked_at=now,
    )


def _status(permit: Permit, local: datetime) -> str:
    if permit.revoked:
        return "revoked"
    today = local.date().isoformat()
    if today < permit.valid_from:
        return "not_yet_valid"
    if today > permit.valid_to:
        return "expired"
    now = local.time()
    for window in permit.time_windows:
        if time.fromisoformat(window["start"]) <= now <= time.fromisoformat(window["end"]):
            return "valid"
    return "outside_hours"
