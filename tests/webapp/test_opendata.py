"""The public open-data API: aggregates only, small counts withheld, documented, rate-limited."""
from __future__ import annotations

import csv
import io
import json
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from itertools import combinations

import pytest
from sqlalchemy import func, select

from engine import tallies, throttle
from engine.db import transaction, utcnow
from engine.forms import is_tw_national_id
from engine.models import Case, Definition, Rating, RequestHit, Service, User, new_id
from reports.opendata import month_start, running_month
from tests.conftest import make_app
from webapp import services, worker
from webapp.opendata.labels import DISTRICTS_EN
from webapp.opendata.limits import parse_rate
from webapp.seed import TAINAN_DISTRICTS

BASE = "/api/v1/open-data"
K = 10
DIMENSIONS = ("service", "month", "district", "outcome")
NAMES = ["陳志明", "林淑芬", "黃建宏", "張雅婷", "李俊傑", "王美玲", "吳宗翰", "劉怡君", "蔡明哲", "楊佩珊",
         "許家豪", "鄭惠如", "謝承恩", "郭麗華", "洪嘉慶", "邱秀蘭", "曾國華", "廖碧霞", "賴文彬", "周素貞"]
STREETS = ["中華東路三段", "府前路一段", "健康路二段", "永華路二段", "崇德路", "開元路", "小東路", "民族路二段"]
COMMENTS = ["承辦人員很有耐心說明補件內容", "等候通知的時間比預期久", "線上申請流程清楚好用",
            "希望能提早告知審查進度", "電話客服態度親切"]


def previous_month(month: str) -> str:
    day = month_start(month) - timedelta(days=1)
    return day.strftime("%Y-%m")


RUNNING = running_month(utcnow())
M2 = previous_month(previous_month(RUNNING))
M1 = previous_month(M2)

# service, month, district (as the case holds it), status, outcome, how many, ratings (scores)
COHORTS = [
    ("low_income", M1, "東區", "closed", "approved", 25, [5] * 15 + [4] * 3 + [2] * 2),
    ("low_income", M1, "東區", "closed", "rejected", 12, []),
    ("low_income", M1, "永康區", "closed", "approved", 14, []),
    ("low_income", M1, "龍崎區", "closed", "rejected", 1, []),
    ("low_income", M2, "東區", "closed", "approved", 11, []),
    ("low_income", M2, "東區", "open", None, 10, []),
    ("low_income", M2, "南化區", "closed", "not_accepted", 2, []),
    ("low_income", M2, "永康區中正路100號", "closed", "approved", 2, []),  # an address where a district belongs
    ("long_term_care", M1, "永康區", "closed", "care_plan", 15, [5, 4, 1]),
    ("long_term_care", M1, "永康區", "closed", "ineligible", 3, []),
    ("long_term_care", M2, "永康區", "closed", "care_plan", 12, []),
    ("large_vehicle_permit", M1, None, "closed", "approved", 20, [5] * 6 + [4] * 2 + [1] * 4),
    ("large_vehicle_permit", M1, None, "closed", "rejected", 2, []),
    ("large_vehicle_permit", M2, None, "closed", "approved", 16, []),
    ("large_vehicle_permit", M2, None, "cancelled", "withdrawn", 1, []),
    ("care_referral", M1, "安平區", "closed", "completed", 11, []),
    ("care_referral", M2, "安平區", "closed", "completed", 1, []),
    ("low_income", RUNNING, "東區", "closed", "approved", 30, [5] * 30),  # the running month: not yet published
]


@dataclass
class Made:
    service: str
    month: str
    district: str | None
    outcome: str
    days: int | None


def national_id(i: int) -> str:
    body = f"{'DEFHR'[i % 5]}{1 + i % 2}{(i * 7919 + 1234567) % 10**7:07d}"
    return next(body + str(check) for check in range(10) if is_tw_national_id(body + str(check)))


def person(number: int, district: str | None) -> dict[str, str]:
    """An applicant's personal data, as real-looking as the application form's."""
    name, street = NAMES[number % len(NAMES)], STREETS[number % len(STREETS)]
    return {"name": name, "national_id": national_id(number), "street": f"{street}{100 + number}號",
            "address": f"臺南市{district or '東區'}{street}{100 + number}號{number % 9 + 1}樓",
            "comment": f"{COMMENTS[number % len(COMMENTS)]}，{name}敬上",
            "plate": f"KL{chr(65 + number % 26)}-{1000 + number}", "phone": f"09{number:08d}",
            "email": f"od{number}@example.tw"}


def write_case(s, number: int, service: str, opened, district: str | None, status: str, outcome: str | None,
               definition: int, owner: str, me: dict[str, str]) -> Case:
    """A case whose searchable fields and workflow data carry the applicant's name, ID, address and note."""
    user = User(id=new_id(), username=f"od{number}", display_name=me["name"], kind="citizen",
                national_id=me["national_id"], phone=me["phone"], email=me["email"])
    days = None if status == "open" else 1 + number % 20
    fields = {"holder": me["name"], "applicant_id": me["national_id"]}
    fields.update({"district": district} if district else {"districts": ["永康區", "新市區"], "plates": [me["plate"]]})
    case = Case(id=new_id(), number=f"OD-{number:06d}", service_key=service, definition_id=definition,
                applicant_id=user.id, owner_agency=owner, status=status, outcome=outcome, opened_at=opened,
                due_at=opened + timedelta(days=20), closed_at=None if days is None else opened + timedelta(days=days),
                fields=fields, provenance={}, revision=3, stage="審查" if days is None else "",
                state={"data": {"application": {"applicant": {
                    "name": me["name"], "id_no": me["national_id"], "address": me["address"], "phone": me["phone"]},
                    "note": me["comment"]}}})
    s.add_all([user, case])
    return case


def generate(app) -> tuple[list[Made], set[str]]:
    """Cases written as a bulk load would (then the tallies recounted), with personal data everywhere a case
    keeps it; returns what was made and every personal string that must never be published."""
    made, secrets, ratings = [], {"永康區中正路"}, []
    with app.app_context(), transaction(services.get().sessions) as s:
        owners = {key: agency for key, agency in s.execute(select(Service.key, Service.owner_agency))}
        definitions = {key: latest for key, latest in s.execute(
            select(Definition.service_key, func.max(Definition.id)).group_by(Definition.service_key))}
        number = 0
        for service, month, district, status, outcome, count, scores in COHORTS:
            for i in range(count):
                number += 1
                me = person(number, district)
                opened = month_start(month) + timedelta(days=1, hours=10, minutes=7 * i)
                case = write_case(s, number, service, opened, district, status, outcome, definitions[service],
                                  owners[service], me)
                if i < len(scores):
                    ratings.append(Rating(case_id=case.id, user_id=case.applicant_id, score=scores[i],
                                          comment=me["comment"], rated_at=case.closed_at + timedelta(hours=1)))
                days = None if case.closed_at is None else (case.closed_at - opened).days
                made.append(Made(service, month, district if district in TAINAN_DISTRICTS else None,
                                 "open" if status == "open" else outcome, days))
                secrets.update([*me.values(), me["comment"][:8], case.number, case.id, case.applicant_id])
        s.flush()
        s.add_all(ratings)
        s.flush()
        tallies.rebuild(s.connection())
    return made, secrets


@pytest.fixture
def data_app(database_url, tmp_path):
    app = make_app(database_url, tmp_path, {"OPEN_DATA_RATE": "10000/minute"})
    made, secrets = generate(app)
    yield app, made, secrets
    with app.app_context():
        services.get().db.dispose()


def fetch(http, path: str, **params):
    return http.get(f"{BASE}/{path}", query_string=params)


def assert_nothing_personal(response, secrets: set[str]) -> None:
    raw = response.get_data(as_text=True)
    texts = [raw]
    if response.mimetype == "application/json":
        texts.append(json.dumps(response.get_json(), ensure_ascii=False))
    for text in texts:
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, leaked[:5]


def csv_rows(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def expected_counts(made: list[Made], by) -> dict[tuple, int]:
    out: dict[tuple, int] = {}
    for case in made:
        if case.month == RUNNING:
            continue
        key = tuple(getattr(case, d) for d in DIMENSIONS if d in by)
        out[key] = out.get(key, 0) + 1
    return out


def all_groupings():
    return [by for size in range(1, 5) for by in combinations(DIMENSIONS, size)]


def test_applications_publish_true_counts_of_k_or_more_and_nothing_personal(data_app):
    app, made, secrets = data_app
    http = app.test_client()  # nobody signs in
    published = {}
    for by in all_groupings():
        response = fetch(http, "applications", group_by=",".join(by))
        assert response.status_code == 200
        assert_nothing_personal(response, secrets)
        body = response.get_json()
        assert body["k"] == K and body["group_by"] == list(by)
        truth = expected_counts(made, by)
        cells = {tuple(item[d] for d in by): item["count"] for item in body["items"]}
        assert cells.keys() == truth.keys(), by
        for key, count in cells.items():
            assert (count is None) or (count == truth[key] and count >= K), (by, key)
            assert truth[key] >= K or count is None, (by, key)
        assert all(item["suppressed"] is (item["count"] is None) for item in body["items"])
        published[by] = cells

        as_csv = fetch(http, "applications", group_by=",".join(by), format="csv")
        assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
        assert_nothing_personal(as_csv, secrets)
        rows = csv_rows(as_csv)
        assert [(tuple(r[d] or None for d in by), int(r["count"]) if r["count"] else None) for r in rows] == \
               [(key, count) for key, count in cells.items()]
    assert published[("service", "month")][("low_income", M1)] == 52
    assert published[("service", "month")][("large_vehicle_permit", M1)] == 22
    fine = published[DIMENSIONS]
    assert fine[("low_income", M1, "龍崎區", "rejected")] is None
    assert fine[("long_term_care", M1, "永康區", "care_plan")] == 15
    # the lone rejection in 龍崎區 takes the 12 in 東區 with it, which takes the 25 approved there
    assert fine[("low_income", M1, "東區", "rejected")] is None and fine[("low_income", M1, "東區", "approved")] is None
    assert ("low_income", M2, None, "approved") in fine  # the address became 未分區
    assert not any(key[1] == RUNNING for key in fine)


def test_no_withheld_count_is_one_subtraction_away_across_groupings(data_app):
    """Every coarse cell (the grand total counts as known) against its line one dimension finer:
    never exactly one unknown, and withheld cells under a shown total add up to at least k."""
    app, made, _secrets = data_app
    http = app.test_client()
    shown = {by: {tuple(item[d] for d in by): item["count"]
                  for item in fetch(http, "applications", group_by=",".join(by)).get_json()["items"]}
             for by in all_groupings()}
    shown[()] = {(): len([c for c in made if c.month != RUNNING])}
    checked = 0
    for by in all_groupings():
        truth = expected_counts(made, by)
        for position in range(len(by)):
            coarse = shown[by[:position] + by[position + 1:]]
            lines: dict = {}
            for key, count in shown[by].items():
                lines.setdefault(key[:position] + key[position + 1:], []).append((key, count))
            for coarse_key, line in lines.items():
                hidden = [truth[key] for key, count in line if count is None]
                assert len(hidden) + (coarse[coarse_key] is None) != 1, (by, position, coarse_key)
                if hidden and coarse[coarse_key] is not None:
                    assert sum(hidden) >= K, (by, position, coarse_key)
                checked += bool(hidden)
    assert checked > 20


def test_filters_return_the_same_cells_as_the_full_grouping(data_app):
    app, _made, secrets = data_app
    http = app.test_client()
    full = fetch(http, "applications", group_by="service,month,outcome").get_json()["items"]
    only = fetch(http, "applications", group_by="outcome", service="low_income", **{"from": M2, "to": M2})
    assert only.status_code == 200
    assert_nothing_personal(only, secrets)
    body = only.get_json()
    assert body["group_by"] == ["service", "month", "outcome"]  # the filters group by what they filter
    assert body["items"] == [i for i in full if i["service"] == "low_income" and i["month"] == M2]
    assert {i["outcome"] for i in body["items"]} == {"approved", "open", "not_accepted"}


def test_processing_times_are_medians_of_k_or_more_finished_cases(data_app):
    app, made, secrets = data_app
    http = app.test_client()

    def days(service, month=None):
        return sorted(c.days for c in made if c.service == service and c.days is not None and c.month != RUNNING
                      and c.outcome != "withdrawn" and (month is None or c.month == month))

    response = fetch(http, "processing-times")
    assert response.status_code == 200
    assert_nothing_personal(response, secrets)
    items = {i["service"]: i for i in response.get_json()["items"]}
    durations = days("low_income")
    assert len(durations) == 67
    assert items["low_income"]["median_days"] == round(statistics.median(durations), 1)
    assert items["low_income"]["p90_days"] == round(
        statistics.quantiles(durations, n=10, method="inclusive")[8], 1)
    assert items["care_referral"]["suppressed"] is False  # 12 finished
    assert "count" not in items["low_income"] and "cases" not in items["low_income"]

    monthly = fetch(http, "processing-times", group_by="service,month").get_json()["items"]
    cells = {(i["service"], i["month"]): i for i in monthly}
    assert cells[("care_referral", M2)] == {"service": "care_referral", "service_label": "綜合式主動關懷及轉介",
                                            "month": M2, "median_days": None, "p90_days": None, "suppressed": True}
    assert cells[("low_income", M2)]["median_days"] == round(statistics.median(days("low_income", M2)), 1)
    assert not any(month == RUNNING for _s, month in cells)

    windowed = fetch(http, "processing-times", service="low_income", **{"from": M1, "to": M1}).get_json()
    assert [i["median_days"] for i in windowed["items"]] == [round(statistics.median(days("low_income", M1)), 1)]
    as_csv = csv_rows(fetch(http, "processing-times", format="csv"))
    assert {r["service"]: r["median_days"] for r in as_csv}["low_income"] == str(items["low_income"]["median_days"])


def test_satisfaction_withholds_small_services_and_their_complement(data_app):
    app, _made, secrets = data_app
    http = app.test_client()
    response = fetch(http, "satisfaction")
    assert_nothing_personal(response, secrets)
    items = {i["service"]: i for i in response.get_json()["items"]}
    assert items["low_income"] == {"service": "low_income", "service_label": "低收入戶／中低收入戶申請",
                                   "ratings": 20, "satisfied_share": 0.9, "mean_score": 4.55, "suppressed": False}
    # 3 ratings of long-term care are withheld; alone they would be the city's total minus the others
    assert items["long_term_care"]["suppressed"] and items["long_term_care"]["ratings"] is None
    assert items["large_vehicle_permit"]["suppressed"] and items["large_vehicle_permit"]["mean_score"] is None
    by_month = fetch(http, "satisfaction", group_by="service,month").get_json()["items"]
    assert all(i["ratings"] is None or i["ratings"] >= K for i in by_month)
    assert not any(i["month"] == RUNNING for i in by_month)
    as_csv = http.get(f"{BASE}/satisfaction", headers={"Accept": "text/csv"})
    assert as_csv.mimetype == "text/csv"
    assert_nothing_personal(as_csv, secrets)
    assert {r["service"]: r["ratings"] for r in csv_rows(as_csv)} == {
        "low_income": "20", "long_term_care": "", "large_vehicle_permit": ""}


def test_labels_follow_the_language_and_codes_stay(data_app):
    app, _made, _secrets = data_app
    http = app.test_client()
    zh = fetch(http, "applications", group_by="service,district").get_json()["items"]
    en = http.get(f"{BASE}/applications?group_by=service,district",
                  headers={"Accept-Language": "en"}).get_json()["items"]
    assert [(i["service"], i["district"]) for i in zh] == [(i["service"], i["district"]) for i in en]
    east_zh = next(i for i in zh if i["district"] == "東區")
    east_en = next(i for i in en if i["district"] == "東區")
    assert east_zh["district_label"] == "東區" and east_zh["service_label"] == "低收入戶／中低收入戶申請"
    assert east_en["district_label"] == "East District" and east_en["service_label"] == "Low-income household status"
    assert next(i for i in zh if i["district"] is None)["district_label"] == "未分區"
    assert set(DISTRICTS_EN) == set(TAINAN_DISTRICTS)


@pytest.mark.parametrize("params, field", [
    ({"group_by": "service,applicant"}, "group_by"),
    ({"group_by": "service,service"}, "group_by"),
    ({"group_by": ","}, "group_by"),
    ({"from": "2025-13"}, "from"),
    ({"to": "25-01"}, "to"),
    ({"from": "2025-06", "to": "2025-01"}, "to"),
    ({"service": "no_such_service"}, "service"),
    ({"format": "xml"}, "format"),
])
def test_bad_parameters_answer_422_naming_the_field_and_no_data(app, params, field):
    response = app.test_client().get(f"{BASE}/applications", query_string=params)
    assert response.status_code == 422
    body = response.get_json()
    assert set(body) == {"error", "message", "errors"} and "items" not in body
    assert list(body["errors"]) == [field] and body["errors"][field][0]
    assert body["message"] == "查詢參數有誤，請依欄位說明修正。"


def test_the_endpoints_are_public_and_in_the_openapi_document(app):
    http = app.test_client()
    for path in ("applications", "processing-times", "satisfaction"):
        assert http.get(f"{BASE}/{path}").status_code == 200
    spec = http.get("/api/v1/openapi.json").get_json()
    for path, schema in (("applications", "ApplicationsOut"), ("processing-times", "ProcessingTimesOut"),
                         ("satisfaction", "SatisfactionOut")):
        operation = spec["paths"][f"{BASE}/{path}"]["get"]
        assert operation["tags"] == ["Open data"]
        assert "不公開" in operation["description"] and "withheld" in operation["description"]
        responses = operation["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
        assert "text/csv" in responses["200"]["content"] and {"422", "429"} <= set(responses)
        assert {"group_by", "from", "to", "service", "format"} <= {p["name"] for p in operation["parameters"]}
    assert "count" in spec["components"]["schemas"]["ApplicationRow"]["properties"]


def test_the_rate_limit_answers_429_with_retry_after_and_recovers(database_url, tmp_path):
    app = make_app(database_url, tmp_path, {"OPEN_DATA_RATE": "3/second"})
    try:
        http = app.test_client()
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        assert [fetch(http, "satisfaction").status_code for _ in range(3)] == [200, 200, 200]
        limited = fetch(http, "applications")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert limited.get_json()["error"] == "rate_limited" and "秒後再試" in limited.get_json()["message"]
        assert "items" not in limited.get_json()
        assert fetch(other, "applications").status_code == 200  # another address has its own allowance
        time.sleep(1.05)
        assert fetch(http, "applications").status_code == 200
    finally:
        with app.app_context():
            services.get().db.dispose()


def test_k_comes_from_the_configuration(database_url, tmp_path):
    app = make_app(database_url, tmp_path, {"OPEN_DATA_K": 20})
    try:
        generate(app)
        body = fetch(app.test_client(), "applications", group_by="service,month").get_json()
        assert body["k"] == 20
        counts = {(i["service"], i["month"]): i["count"] for i in body["items"]}
        assert counts[("low_income", M1)] == 52
        assert counts[("long_term_care", M1)] is None  # 18: enough for 10, not for 20
        assert all(c is None or c >= 20 for c in counts.values())
    finally:
        with app.app_context():
            services.get().db.dispose()


def test_the_limit_holds_across_web_processes(seeded_database_url, tmp_path):
    first, second = (make_app(seeded_database_url, tmp_path, {"OPEN_DATA_RATE": "3/minute"}, seeded=True)
                     for _ in range(2))
    try:
        assert fetch(first.test_client(), "applications").status_code == 200
        assert [fetch(second.test_client(), "satisfaction").status_code for _ in range(2)] == [200, 200]
        assert fetch(first.test_client(), "applications").status_code == 429
        assert fetch(second.test_client(), "applications").status_code == 429
    finally:
        for app in (first, second):
            with app.app_context():
                services.get().db.dispose()


def test_the_worker_forgets_the_requests_of_clients_that_did_not_come_back(app):
    assert fetch(app.test_client(), "applications").status_code == 200
    with app.app_context(), transaction(services.get().sessions) as s:
        throttle.request_wait(s, scope="open_data", subject="gone", limit=60, window=timedelta(minutes=1),
                              now=utcnow() - timedelta(days=2))
    worker.sweep(app)
    with app.app_context(), transaction(services.get().sessions) as s:
        assert s.scalar(select(func.count()).select_from(RequestHit).where(RequestHit.subject == "gone")) == 0
        assert s.scalar(select(func.count()).select_from(RequestHit)) == 1  # this minute's request stays


def test_the_rate_setting_is_read_or_refused():
    assert parse_rate("60/minute") == (60, 60.0) and parse_rate(5) == (5, 60.0)
    assert parse_rate("5 per second") == (5, 1.0)
    for wrong in ("lots", "0/minute", 0):
        with pytest.raises(ValueError):
            parse_rate(wrong)
