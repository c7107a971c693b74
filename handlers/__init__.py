"""Service-task handlers and adapters to outside systems.

``register_all`` wires every handler into the engine's registry at app start,
each with an example result shaped like its real one, which test runs of draft
diagrams use instead of calling it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from engine.calendar import TAIPEI
from engine.workflow import HandlerRegistry


def register_all(registry: HandlerRegistry, *,
                 on_permit_issued: Sequence[Callable] = ()) -> HandlerRegistry:
    """Every handler, wired; ``on_permit_issued`` listeners write what derives from a new permit
    (the heatmap's cells, say) in the same transaction, without handlers knowing of them."""
    from . import care, cohandling, directory, letters, notices, permits, referrals

    visit_starts = datetime(2025, 12, 3, 9, 0, tzinfo=TAIPEI)
    visit_ends = datetime(2025, 12, 3, 10, 30, tzinfo=TAIPEI)

    registry.register("directory.police_for_districts", directory.police_for_districts,
                      example=["TNPD-YK"])
    registry.register("directory.district_social_section", directory.district_social_section,
                      example="D31-SOC")
    registry.register("permit.issue", partial(permits.issue, listeners=tuple(on_permit_issued)),
                      example={"number": "LVP-2025-000001"})
    registry.register("letter.issue", letters.issue,
                      example={"document_id": "5f0c2a9e8b7d4c1fa3e6b2d9c8a7f401"})
    registry.register("notify.applicant", notices.notify_applicant, example={"sent": True, "mailed": 1})
    registry.register("care.eligibility", care.eligibility,
                      example=care.Eligibility(True, 78, ["年滿 65 歲（78 歲）"]).as_data())
    registry.register("care.book_slot", care.book_slot, example={
        "slot_id": "9d2b7c4e1a0f4e8b8c6d5a3b2e1f0c9d", "assessor_id": "3e8a1c5b7d9f4a2c8e6b0d4f2a1c3e5b",
        "assessor_name": "謝照專", "starts_at": visit_starts.isoformat(), "ends_at": visit_ends.isoformat(),
        "label": care.slot_label(visit_starts, visit_ends),
        "remind_at": (visit_starts - care.REMINDER_LEAD).isoformat(),
    })
    registry.register("directory.district_office", directory.district_office, example="D31")
    registry.register("cohandling.agency_names", cohandling.agency_names, example={
        "TNPD-YK": cohandling.short_name("臺南市政府警察局永康分局"),
        "FB": cohandling.short_name("臺南市政府消防局"),
        "EPB": cohandling.short_name("臺南市政府環境保護局"),
        "PWB": cohandling.short_name("臺南市政府工務局"),
        "D31": cohandling.short_name("臺南市永康區公所"),
    })
    registry.register("referral.route", referrals.route, example={
        "agency": "CA", "agency_name": "臺南市政府民政局", "category": "區政及鄰里長關懷", "routed": True})
    return registry
