"""The KPI panel of PRODUCT.md: each figure with its formula, its target and the counts behind it."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine import tallies
from engine.models import Case, CaseTally, Permit, Rating, Service

from .sla import Scope


@dataclass(frozen=True)
class Part:
    """One service's share of a figure, with its mean where the figure has one."""

    label: str
    numerator: int
    denominator: int
    mean: float | None = None

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    formula: str
    target: float
    numerator: int
    denominator: int
    note: str = ""
    mean: float | None = None
    parts: tuple[Part, ...] = ()

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value >= self.target


def panel(s: Session, scope: Scope) -> list[Kpi]:
    return [satisfaction(s, scope), online_services(s, scope), online_applications(s, scope),
            paperless_permits(s, scope), manual_entry_avoided(s, scope)]


def satisfaction(s: Session, scope: Scope) -> Kpi:
    """Ratings given in the period to the scope's cases: the share of 4 and 5, and the mean, per service."""
    rows = s.execute(
        select(Service.name, func.count(), func.sum(case((Rating.score >= 4, 1), else_=0)),
               func.sum(Rating.score))
        .select_from(Rating).join(Case, Case.id == Rating.case_id)
        .join(Service, Service.key == Case.service_key)
        .where(scope.cases(), Rating.rated_at >= scope.since)
        .group_by(Service.name).order_by(Service.name)).all()
    parts = tuple(Part(name, int(high), n, total / n) for name, n, high, total in rows)
    rated = sum(p.denominator for p in parts)
    total = sum(p.mean * p.denominator for p in parts)
    return Kpi("satisfaction", "民眾服務滿意度", "評分 4–5 分的件數 ÷ 評分件數（1–5 分）", 0.75,
               sum(p.numerator for p in parts), rated, "" if rated else "期間內尚無評分。",
               total / rated if rated else None, parts)


def online_services(s: Session, scope: Scope) -> Kpi:
    rows = s.execute(select(Service.online, func.count()).where(
        True if scope.agency is None else Service.owner_agency == scope.agency).group_by(Service.online)).all()
    counts = {bool(online): n for online, n in rows}
    return Kpi("online_services", "線上申辦比率（服務項目）", "可線上申辦的服務項目 ÷ 全部服務項目", 0.60,
               counts.get(True, 0), sum(counts.values()))


def online_applications(s: Session, scope: Scope) -> Kpi:
    """Applications opened in the period by channel: finished ones from the tallies, open ones live."""
    narrow = scope.case_tallies()
    counts: dict[str, int] = defaultdict(int)
    for channel, n in [
        *s.execute(select(CaseTally.channel, func.sum(CaseTally.n))
                   .where(narrow, CaseTally.opened_on >= scope.since_day).group_by(CaseTally.channel)),
        *s.execute(select(Case.channel, func.count())
                   .where(Case.status == "open", Case.opened_at >= scope.since, scope.open_cases())
                   .group_by(Case.channel)),
    ]:
        counts[channel] += int(n)
    return Kpi("online_applications", "線上申辦比率（申請件數）", "線上送出的申請 ÷ 全部申請", 0.60,
               counts.get("online", 0), sum(counts.values()))


def paperless_permits(s: Session, scope: Scope) -> Kpi:
    rows = s.execute(select(Case.channel, func.count()).join(Permit, Permit.case_id == Case.id).where(
        scope.cases(), Permit.issued_at >= scope.since).group_by(Case.channel)).all()
    counts = dict(rows)
    return Kpi("paperless_permits", "減少紙本發證", "線上申請並線上核發的通行證 ÷ 全部核發的通行證", 0.30,
               counts.get("online", 0), sum(counts.values()))


def manual_entry_avoided(s: Session, scope: Scope, service_key: str = "long_term_care") -> Kpi:
    """Fields that came from the signed-in identity or MyData, out of all fields, over the period's cases.

    Finished cases from the tallies, the few open ones read here.
    """
    narrow = scope.case_tallies()
    cases, fields, automatic = s.execute(
        select(func.coalesce(func.sum(CaseTally.n), 0), func.coalesce(func.sum(CaseTally.fields), 0),
               func.coalesce(func.sum(CaseTally.automatic_fields), 0))
        .where(narrow, CaseTally.service_key == service_key, CaseTally.opened_on >= scope.since_day)).one()
    cases, fields, automatic = int(cases), int(fields), int(automatic)
    for provenance in s.scalars(select(Case.provenance).where(
            Case.status == "open", scope.open_cases(), Case.service_key == service_key,
            Case.opened_at >= scope.since)):
        cases += 1
        fields += len(provenance or {})
        automatic += sum(1 for source in (provenance or {}).values() if tallies.is_automatic(source))
    return Kpi("manual_entry", "降低長照人工錄案", "由登入身分或 MyData 帶入的欄位 ÷ 全部欄位（長照申請）", 0.25,
               automatic, fields, f"{cases} 件申請")
