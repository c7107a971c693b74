"""Service-task handlers and adapters to outside systems.

``register_all`` wires every handler into the engine's registry at app start.
"""
from __future__ import annotations

from engine.workflow import HandlerRegistry


def register_all(registry: HandlerRegistry) -> HandlerRegistry:
    from . import care, cohandling, directory, letters, notices, permits, referrals

    registry.register("directory.police_for_districts", directory.police_for_districts)
    registry.register("directory.district_social_section", directory.district_social_section)
    registry.register("permit.issue", permits.issue)
    registry.register("letter.issue", letters.issue)
    registry.register("notify.applicant", notices.notify_applicant)
    registry.register("care.eligibility", care.eligibility)
    registry.register("care.book_slot", care.book_slot)
    registry.register("directory.district_office", directory.district_office)
    registry.register("cohandling.agency_names", cohandling.agency_names)
    registry.register("referral.route", referrals.route)
    return registry
