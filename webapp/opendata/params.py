"""The open-data query string, checked field by field before anything is read."""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
FORMATS = ("json", "csv")


@dataclass(frozen=True)
class Query:
    group_by: tuple[str, ...]   # in the endpoint's order of dimensions
    first: str | None           # YYYY-MM, inclusive
    last: str | None            # YYYY-MM, inclusive
    service: str | None
    format: str                 # json or csv


class BadQuery(Exception):
    """Field-level messages, in the request's language, for a query that cannot be answered."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("bad open-data query")
        self.errors = errors


def parse(args: Mapping[str, str | None], *, dimensions: Sequence[str], default_group_by: Sequence[str],
          services: Collection[str], wants_csv: bool) -> Query:
    """The query ``args`` ask for, or ``BadQuery`` naming every field that is wrong."""
    errors: dict[str, list[str]] = {}
    group_by = _group_by(args.get("group_by"), dimensions, default_group_by, errors)
    first = _month(args.get("from_"), "from", errors)
    last = _month(args.get("to"), "to", errors)
    if first and last and first > last:
        errors.setdefault("to", []).append(_("結束月份不可早於起始月份。"))
    service = (args.get("service") or "").strip() or None
    if service is not None and service not in services:
        errors["service"] = [_("查無此服務代碼，可用的代碼見 /api/v1/services。")]
    chosen = (args.get("format") or "").strip().lower() or ("csv" if wants_csv else "json")
    if chosen not in FORMATS:
        errors["format"] = [_("格式應為 json 或 csv。")]
    if errors:
        raise BadQuery(errors)
    return Query(group_by, first, last, service, chosen)


def _group_by(value: str | None, dimensions: Sequence[str], default: Sequence[str],
              errors: dict[str, list[str]]) -> tuple[str, ...]:
    allowed = ", ".join(dimensions)
    if value is None:
        return tuple(d for d in dimensions if d in default)
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in dimensions]
    if not names:
        errors["group_by"] = [_("請至少指定一個分組欄位，可用的欄位：%(allowed)s。", allowed=allowed)]
    elif unknown:
        errors["group_by"] = [_("不支援的分組欄位：%(names)s。可用的欄位：%(allowed)s。",
                                names=", ".join(unknown)[:200], allowed=allowed)]
    elif len(set(names)) != len(names):
        errors["group_by"] = [_("分組欄位重複，每個欄位只能指定一次。")]
    return tuple(d for d in dimensions if d in names)


def _month(value: str | None, field: str, errors: dict[str, list[str]]) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not MONTH.fullmatch(value):
        errors[field] = [_("月份格式應為 YYYY-MM，例如 2025-01。")]
        return None
    return value
