"""Open data endpoints under /api/v1/open-data: public, rate-limited, aggregates only."""
from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

from apiflask import APIBlueprint
from flask import Response, current_app, request
from flask_babel import gettext as _
from sqlalchemy import select

from engine import throttle
from engine.db import reading, transaction, utcnow
from engine.models import Service
from reports import opendata
from reports.export import Table, to_csv

from .. import select_locale, services
from ..seed import TAINAN_DISTRICTS
from . import labels
from .limits import TtlCache, parse_rate
from .params import BadQuery, Query, parse
from .schemas import (
    ApplicationsOut,
    ApplicationsQuery,
    InvalidQuery,
    ProcessingTimesOut,
    ProcessingTimesQuery,
    RateLimited,
    SatisfactionOut,
    SatisfactionQuery,
)

bp = APIBlueprint("opendata", __name__, url_prefix="/api/v1/open-data", tag="Open data")

DEFAULT_K = 10
DEFAULT_RATE = "60/minute"
DEFAULT_CACHE_SECONDS = 300

PROTECTION = (
    "**隱私保護**：只提供彙總數字，不含任何個人識別資料、姓名、地址（最細到行政區）或文字內容；只公開已結束的月份。"
    "少於 k 件（預設 10，見回應的 `k`）的格不公開：該列保留，`count` 為 null、`suppressed` 為 true。"
    "為避免由加總或其他分組相減推回不公開的數字，每一個較粗分組的格與其下一層分組的各格之間，"
    "不公開的格不會只有一個，且加總已公開時，不公開的格合計至少 k 件（互補隱匿）；"
    "同一格在任何分組、任何篩選下都以相同方式公開或隱匿。\n\n"
    "**Privacy**: aggregates only, never an identifier, a name, an address finer than a district or free text; "
    "only whole months are published. A cell counting fewer than k (default 10, see `k` in the response) is "
    "withheld: its row stays, with `count` null and `suppressed` true. So that no withheld count can be worked "
    "out by subtracting shown figures, of this grouping or of any coarser one, every coarse cell and the line of "
    "finer cells that sums to it have either no withheld cell or at least two, and when the coarse cell is shown "
    "the withheld ones add up to at least k (complementary suppression). A cell is shown or withheld the same "
    "way in every grouping and under every filter.\n\n"
    "JSON by default; `format=csv` or `Accept: text/csv` gives CSV (UTF-8 with a byte-order mark) with the same "
    "rows. Labels follow Accept-Language (zh-TW, en). Each client address may make 60 requests a minute (by "
    "default); over that the answer is 429 with Retry-After."
)
RESPONSES = {
    200: {"description": "OK", "content": {"text/csv": {"schema": {"type": "string"}}}},
    422: {"description": "查詢參數有誤 Invalid query parameter", "content": {"application/json": {"schema": InvalidQuery}}},
    429: {"description": "查詢太頻繁 Too many requests (see Retry-After)",
          "content": {"application/json": {"schema": RateLimited}}},
}


# -- per-app state: the result cache ---------------------------------------------------------------

def _shared(name: str, make: Callable[[], object]):
    extensions = current_app.extensions
    if name not in extensions:
        extensions.setdefault(name, make())
    return extensions[name]


def _cache() -> TtlCache:
    return _shared("opendata.cache", lambda: TtlCache(
        float(current_app.config.get("OPEN_DATA_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))))


def _k() -> int:
    return max(1, int(current_app.config.get("OPEN_DATA_K", DEFAULT_K)))


def _cached(key: tuple, compute: Callable):
    def read():
        with reading(services.get().sessions) as s:
            return compute(s)
    return _cache().get(key, read)


@bp.before_request
def _rate_limit():
    """Each client address's requests are counted in the database, so every web process limits alike."""
    limit, window = parse_rate(current_app.config.get("OPEN_DATA_RATE", DEFAULT_RATE))
    svc = services.get()
    client = throttle.tag(request.remote_addr or "", svc.engine.settings["throttle_pepper"])
    with transaction(svc.sessions) as s:
        wait = throttle.request_wait(s, scope="open_data", subject=client, limit=limit,
                                     window=timedelta(seconds=window), now=svc.engine.clock())
    if wait:
        seconds = max(1, math.ceil(wait.total_seconds()))
        body = {"error": "rate_limited",
                "message": _("查詢太頻繁，請於 %(seconds)s 秒後再試。", seconds=seconds)}
        return body, 429, {"Retry-After": str(seconds)}
    return None


@bp.errorhandler(BadQuery)
def _bad_query(exc: BadQuery):
    return {"error": "invalid", "message": _("查詢參數有誤，請依欄位說明修正。"), "errors": exc.errors}, 422


# -- the endpoints ---------------------------------------------------------------------------------

@bp.get("/applications")
@bp.input(ApplicationsQuery, location="query")
@bp.output(ApplicationsOut)
@bp.doc(summary="申辦件數 Applications by service, month, district and outcome", responses=RESPONSES,
        description="各服務的申請件數，可依服務、受理月份、行政區（依申請內容；無單一行政區者為「未分區」）、"
                    "辦理結果分組。\nApplications by service, month opened (Asia/Taipei), district (from the "
                    "application; null = not by district where the service has no single district) and outcome "
                    "(`open` while still being worked).\n\n" + PROTECTION)
def applications(query_data):
    names, locale = _service_names(), select_locale()
    query = _parse(query_data, opendata.APPLICATION_DIMENSIONS, ("service", "month"), names)
    k, before = _k(), _published_before()
    table = _cached(("applications", k, before),
                    lambda s: opendata.applications(s, TAINAN_DISTRICTS, before, k))
    by, where = _counted(query)
    items = [{**_dimensions(row.key, names, locale), "count": None if row.withheld else row.values[0],
              "suppressed": row.withheld} for row in table.rows(by, where)]
    return _answer("applications", query, by, k, items, ["count", "suppressed"])


@bp.get("/processing-times")
@bp.input(ProcessingTimesQuery, location="query")
@bp.output(ProcessingTimesOut)
@bp.doc(summary="處理天數 Median and 90th percentile processing days", responses=RESPONSES,
        description="已結案案件從受理到結案的天數中位數與第 90 百分位，依服務（及受理月份）分組；"
                    "少於 k 件結案的格不公開。不提供件數（件數與申辦結果相減可能推回不公開的數字）。\n"
                    "Median and 90th percentile days from application to closing of finished cases, by service "
                    "(and month opened); withheld where fewer than k cases finished. The number of cases is not "
                    "given: beside the applications by outcome it could reveal a withheld count.\n\n" + PROTECTION)
def processing_times(query_data):
    names, locale = _service_names(), select_locale()
    query = _parse(query_data, opendata.TIMING_DIMENSIONS, ("service",), names)
    k, running = _k(), opendata.running_month(utcnow())
    end = min(opendata.next_month(query.last), running) if query.last else running
    by = tuple(d for d in opendata.TIMING_DIMENSIONS if d in query.group_by or (d == "service" and query.service))
    timings = _cached(("processing-times", k, by, query.first, end),
                      lambda s: opendata.processing_times(s, by, query.first, end, k))
    items = [{**_dimensions(t.key, names, locale), "median_days": t.median_days, "p90_days": t.p90_days,
              "suppressed": t.withheld} for t in timings
             if query.service is None or t.key["service"] == query.service]
    return _answer("processing-times", query, by, k, items, ["median_days", "p90_days", "suppressed"])


@bp.get("/satisfaction")
@bp.input(SatisfactionQuery, location="query")
@bp.output(SatisfactionOut)
@bp.doc(summary="滿意度 Satisfaction: share of ratings 4–5 and mean score", responses=RESPONSES,
        description="結案後民眾的 1–5 分評分：評 4–5 分的比率與平均分數，依服務（及評分月份）分組；"
                    "少於 k 則評分的格不公開。\nRatings (1–5) given after a case closes: the share of 4 and 5 "
                    "and the mean score, by service (and month rated); withheld under k ratings.\n\n" + PROTECTION)
def satisfaction(query_data):
    names, locale = _service_names(), select_locale()
    query = _parse(query_data, opendata.RATING_DIMENSIONS, ("service",), names)
    k, before = _k(), _published_before()
    table = _cached(("satisfaction", k, before), lambda s: opendata.ratings(s, before, k))
    by, where = _counted(query)
    items = [{**_dimensions(row.key, names, locale), **_rating_figures(row), "suppressed": row.withheld}
             for row in table.rows(by, where)]
    return _answer("satisfaction", query, by, k, items, ["ratings", "satisfied_share", "mean_score", "suppressed"])


# -- helpers ---------------------------------------------------------------------------------------

def _parse(query_data: dict, dimensions: tuple[str, ...], default: tuple[str, ...],
           names: dict[str, tuple[str, str]]) -> Query:
    wants_csv = request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    return parse(query_data, dimensions=dimensions, default_group_by=default, services=names,
                 wants_csv=wants_csv)


def _published_before():
    """Only whole months are published: everything before the running Taipei month."""
    return opendata.month_start(opendata.running_month(utcnow()))


def _counted(query: Query) -> tuple[tuple[str, ...], dict]:
    """The grouping to read and its filters: filtering by service or period groups by it as well,
    so that every figure is a cell the protection has seen."""
    by = set(query.group_by)
    where: dict[str, Callable[[str | None], bool]] = {}
    if query.service:
        by.add("service")
        where["service"] = lambda value: value == query.service
    if query.first or query.last:
        by.add("month")
        where["month"] = lambda value: ((query.first is None or value >= query.first)
                                        and (query.last is None or value <= query.last))
    return tuple(by), where


def _rating_figures(row: opendata.Row) -> dict:
    if row.withheld:
        return {"ratings": None, "satisfied_share": None, "mean_score": None}
    figures = opendata.satisfaction_of(row.values)
    return {"ratings": figures.ratings, "satisfied_share": round(figures.satisfied_share, 3),
            "mean_score": round(figures.mean_score, 2)}


def _service_names() -> dict[str, tuple[str, str]]:
    return _cached(("services",), lambda s: {key: (name, name_en) for key, name, name_en in s.execute(
        select(Service.key, Service.name, Service.name_en))})


def _dimensions(key: dict[str, str | None], names: dict[str, tuple[str, str]], locale: str) -> dict:
    """The row's codes, each with its label in the request's language."""
    out: dict = {}
    for dimension, value in key.items():
        out[dimension] = value
        if dimension == "service":
            out["service_label"] = labels.service(value, names, locale)
        elif dimension == "district":
            out["district_label"] = labels.district(value, locale)
        elif dimension == "outcome":
            out["outcome_label"] = labels.outcome(value)
    return out


def _answer(name: str, query: Query, by: tuple[str, ...], k: int, items: list[dict], figures: list[str]):
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept, Accept-Language, Cookie"}
    group_by = [d for d in ("service", "month", "district", "outcome") if d in by]
    if query.format == "csv":
        columns = [c for d in group_by for c in ((d,) if d == "month" else (d, f"{d}_label"))] + figures
        table = Table(name, columns, [[_csv_value(item.get(c)) for c in columns] for item in items])
        return Response(to_csv(table), mimetype="text/csv",
                        headers={**headers, "Content-Disposition": f'attachment; filename="{name}.csv"'})
    body = {"k": k, "group_by": group_by, "from_": query.first, "to": query.last, "service": query.service,
            "items": items}
    return body, 200, headers


def _csv_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value
