"""Query and response shapes of the open-data API, for validation and the OpenAPI document."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Float, Integer, List, Nested, String


def _group_by(choices: str, default: str) -> String:
    return String(load_default=None, metadata={
        "description": f"分組欄位，以逗號分隔 Comma-separated grouping: {choices}. 預設 Default: {default}"})


def _month(description: str, example: str) -> dict:
    return {"load_default": None, "metadata": {"description": description, "example": example}}


COUNTED_PERIOD = "指定期間時，結果也依月份分組 Rows are then also grouped by month."
TIMED_PERIOD = "選取受理月份在期間內的案件 Selects the cases opened in the period."


class _Query(Schema):
    """Every field is read as text and checked by ``params.parse``, which names the field that is wrong."""

    from_ = String(data_key="from", **_month(f"起始月份 First month (YYYY-MM, Asia/Taipei). {COUNTED_PERIOD}",
                                             "2025-01"))
    to = String(**_month(f"結束月份（含）Last month, inclusive (YYYY-MM). {COUNTED_PERIOD}", "2025-12"))
    service = String(load_default=None, metadata={
        "description": "只看一項服務 Only this service (a key from /api/v1/services)", "example": "low_income"})
    format = String(load_default=None, metadata={
        "description": "json（預設 default）或 or csv；也可送 Accept: text/csv", "enum": ["json", "csv"]})


class ApplicationsQuery(_Query):
    group_by = _group_by("service, month, district, outcome", "service,month")


class SatisfactionQuery(_Query):
    group_by = _group_by("service, month", "service")


class ProcessingTimesQuery(_Query):
    group_by = _group_by("service, month", "service")
    from_ = String(data_key="from", **_month(f"起始月份 First month (YYYY-MM). {TIMED_PERIOD}", "2025-01"))
    to = String(**_month(f"結束月份（含）Last month, inclusive (YYYY-MM). {TIMED_PERIOD}", "2025-12"))


class _Dimensions(Schema):
    service = String(metadata={"description": "服務代碼 Service key"})
    service_label = String(metadata={"description": "服務名稱 Service name, in the request's language"})
    month = String(metadata={"description": "月份 Month, YYYY-MM (Asia/Taipei)"})


class ApplicationRow(_Dimensions):
    district = String(allow_none=True, metadata={"description": "行政區 District; null = 未分區 not by district"})
    district_label = String()
    outcome = String(metadata={"description": "結果代碼 Outcome: approved, rejected, not_accepted, withdrawn, "
                                              "completed, ineligible, care_plan, open, other"})
    outcome_label = String()
    count = Integer(allow_none=True, metadata={"description": "申請件數；null 表示不公開 Applications; null when withheld"})
    suppressed = Boolean(metadata={"description": "是否因件數過少而不公開 Withheld to protect privacy"})


class SatisfactionRow(_Dimensions):
    ratings = Integer(allow_none=True, metadata={"description": "評分件數 Number of ratings"})
    satisfied_share = Float(allow_none=True, metadata={"description": "評 4–5 分的比率 Share of ratings 4 or 5"})
    mean_score = Float(allow_none=True, metadata={"description": "平均分數（1–5）Mean score"})
    suppressed = Boolean()


class ProcessingTimeRow(_Dimensions):
    median_days = Float(allow_none=True, metadata={"description": "處理天數中位數 Median days to close"})
    p90_days = Float(allow_none=True, metadata={"description": "處理天數第 90 百分位 90th percentile days"})
    suppressed = Boolean()


class _Table(Schema):
    k = Integer(metadata={"description": "門檻 k：少於 k 件的格不公開 Cells under k are withheld"})
    group_by = List(String())
    from_ = String(data_key="from", allow_none=True)
    to = String(allow_none=True)
    service = String(allow_none=True)


class ApplicationsOut(_Table):
    items = List(Nested(ApplicationRow))


class SatisfactionOut(_Table):
    items = List(Nested(SatisfactionRow))


class ProcessingTimesOut(_Table):
    items = List(Nested(ProcessingTimeRow))


class RateLimited(Schema):
    error = String()
    message = String()


class InvalidQuery(Schema):
    error = String()
    message = String()
    errors = Dict(keys=String(), values=List(String()),
                  metadata={"description": "欄位 → 訊息 Field name to its messages"})
