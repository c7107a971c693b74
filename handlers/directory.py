"""Handlers that resolve candidate agencies from case data."""
from __future__ import annotations

from sqlalchemy import select

from engine.cases import HandlerContext
from engine.models import Agency


def police_for_districts(ctx: HandlerContext, districts: list[str]) -> list[str]:
    """The police sub-bureaus responsible for the given districts, one each, sorted."""
    bureaus = ctx.session.scalars(select(Agency).where(Agency.kind == "police")).all()
    by_district = {d: b.code for b in bureaus for d in (b.districts or [])}
    missing = [d for d in districts if d not in by_district]
    if missing:
        raise LookupError(f"no police sub-bureau covers {', '.join(missing)}")
    return sorted({by_district[d] for d in districts})


def _covering(ctx: HandlerContext, district: str, what: str, *where) -> str:
    """The code of the one agency among ``where`` whose districts include ``district``."""
    agencies = ctx.session.scalars(select(Agency).where(*where))
    code = next((a.code for a in agencies if district in (a.districts or [])), None)
    if code is None:
        raise LookupError(f"no {what} for {district}")
    return code


def district_social_section(ctx: HandlerContext, district: str) -> str:
    """The social section of the district office where the applicant is registered."""
    return _covering(ctx, district, "district social section", Agency.kind == "section",
                     Agency.code.like("%-SOC"))


def district_office(ctx: HandlerContext, district: str) -> str:
    """The agency code of the district office (區公所) of ``district``."""
    return _covering(ctx, district, "district office", Agency.kind == "district")
