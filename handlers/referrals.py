"""Care referrals (綜合式主動關懷及轉介): each category goes to the agency the routing table names.

The table is data that admins edit, so a reorganisation moves referrals without
touching the diagram; a category nobody routed yet goes to the coordinating
agency, which reroutes it by hand.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases import HandlerContext
from engine.errors import N_, InvalidInput
from engine.models import Agency, ReferralRoute

#: The categories of PRODUCT.md, with the agency each goes to until an admin says otherwise.
DEFAULT_ROUTES = {
    "區政及鄰里長關懷": "CA",
    "垃圾清運": "EPB",
    "採購生活及防疫物資": "SB",
    "寵物照顧": "ADPP",
    "後送就醫": "HB",
    "孤老弱勢及身障服務": "SB",
    "勞工權益": "LB",
    "學生關懷": "EB",
    "公寓大樓事務": "PWB",
    "衛生醫療": "HB",
}
COORDINATOR = "CA"


def route(ctx: HandlerContext, category: str) -> dict:
    """Service task ``referral.route``: the agency for ``category``, with its name for the page."""
    found = ctx.session.get(ReferralRoute, category)
    code = found.agency_code if found else COORDINATOR
    agency = ctx.session.get(Agency, code)
    return {"agency": code, "agency_name": agency.name if agency else code, "category": category,
            "routed": found is not None}


def routes(s: Session) -> dict[str, str]:
    """Every category with its agency code (the defaults where no row exists yet)."""
    stored = dict(s.execute(select(ReferralRoute.category, ReferralRoute.agency_code)).all())
    return {category: stored.get(category, default) for category, default in DEFAULT_ROUTES.items()}


def set_routes(s: Session, chosen: dict[str, str], actor_id: str, now: datetime) -> list[str]:
    """Save the admin's table; field errors for unknown categories or agencies, nothing saved then.

    Returns the categories whose agency changed.
    """
    agencies = set(s.scalars(select(Agency.code)))
    errors = {category: [N_("請選擇承辦機關。")] for category, code in chosen.items()
              if category in DEFAULT_ROUTES and code not in agencies}
    unknown = [category for category in chosen if category not in DEFAULT_ROUTES]
    if unknown:
        errors["_form"] = [N_("有不存在的轉介類別。")]
    if errors:
        raise InvalidInput("invalid routes", errors)
    current = routes(s)
    changed = [category for category, code in chosen.items() if current[category] != code]
    for category in changed:
        row = s.get(ReferralRoute, category)
        if row is None:
            row = ReferralRoute(category=category)
            s.add(row)
        row.agency_code, row.updated_at, row.updated_by = chosen[category], now, actor_id
    return changed


def seed_routes(s: Session) -> None:
    """The default table, for categories with no row yet."""
    for category, code in DEFAULT_ROUTES.items():
        if s.get(ReferralRoute, category) is None and s.get(Agency, code) is not None:
            s.add(ReferralRoute(category=category, agency_code=code))
