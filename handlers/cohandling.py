"""Handlers for cross-agency co-handling (跨域會辦).

Which agencies co-handle an application is decided by rules written in the
diagram; this handler answers what a rule cannot: what the dispatched agencies
are called when their requests are merged into one note for the applicant (the
district office comes from ``directory.district_office``).
"""
from __future__ import annotations

from sqlalchemy import select

from engine.cases import HandlerContext
from engine.models import Agency

#: Prefixes dropped from agency names in notes: 臺南市政府消防局 → 消防局, 臺南市永康區公所 → 永康區公所.
NAME_PREFIXES = ("臺南市政府", "臺南市")
#: The short forms people use for some agency names.
ABBREVIATIONS = {"環境保護局": "環保局"}


def short_name(name: str) -> str:
    for prefix in NAME_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
            break
    for full, short in ABBREVIATIONS.items():
        name = name.replace(full, short)
    return name


def agency_names(ctx: HandlerContext, codes: list[str]) -> dict[str, str]:
    """Short names of the agencies ``codes``, keyed by code (an unknown code names itself)."""
    rows = ctx.session.execute(select(Agency.code, Agency.name).where(Agency.code.in_(list(codes)))).all()
    names = {code: short_name(name) for code, name in rows}
    return {code: names.get(code, code) for code in codes}
