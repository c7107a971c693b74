"""The service catalog: its data files, seeding them into the database, and the search index over it."""
from __future__ import annotations

import json
import math
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.models import Agency, Service

from .models import CatalogItem
from .search import CatalogIndex, Entry

DATA = Path(__file__).parent
#: Columns the data file sets; seeding compares exactly these.
FIELDS = ("name", "name_en", "agency", "agency_code", "category", "description", "documents", "online",
          "mydata", "service_key", "keywords", "apply_url")


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads((DATA / "catalog_items.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def synonyms() -> dict[str, list[str]]:
    return json.loads((DATA / "synonyms.json").read_text(encoding="utf-8"))


def items() -> list[dict]:
    """The catalog as the data file writes it, one dict per item."""
    return _data()["items"]


def categories() -> list[str]:
    """The categories in the order the catalog presents them."""
    return list(_data()["categories"])


def category_en(category: str) -> str:
    return _data()["categories"].get(category, category)


def category_label(category: str, locale: str) -> str:
    return category_en(category) if locale == "en" else category


def agency_en(agency: str) -> str:
    return _data()["agencies"].get(agency, agency)


def seed(s: Session) -> int:
    """Adds the items that are missing and updates those whose data changed; returns how many it wrote.

    Agency codes and service keys the database does not hold are left empty rather than
    failing, so a trimmed demo directory still seeds.
    """
    agencies = set(s.scalars(select(Agency.code)))
    services = set(s.scalars(select(Service.key)))
    existing = {row.key: row for row in s.scalars(select(CatalogItem))}
    written = 0
    now = utcnow()
    for item in items():
        values = {name: item.get(name) for name in FIELDS}
        values["agency_code"] = values["agency_code"] if values["agency_code"] in agencies else None
        values["service_key"] = values["service_key"] if values["service_key"] in services else None
        row = existing.get(item["key"])
        if row is None:
            s.add(CatalogItem(key=item["key"], updated_at=now, **values))
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
        else:
            continue
        written += 1
    return written


def entry(row: CatalogItem) -> Entry:
    return Entry(key=row.key, name=row.name, name_en=row.name_en, category=row.category,
                 agency=row.agency, description=row.description, documents=tuple(row.documents or ()),
                 keywords=tuple(row.keywords or ()))


class IndexCache:
    """One index per process and catalog version; a change to the catalog rebuilds it on next use.

    The version is the number of items and their latest ``updated_at``, read with one small
    query per question, so every web process notices an edit made by any other.
    """

    KEEP = 4  # databases one process serves (tests open many; production one)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[str, tuple[tuple, CatalogIndex]] = {}

    def get(self, s: Session) -> CatalogIndex:
        database = str(s.get_bind().url)
        version = tuple(s.execute(select(func.count(), func.max(CatalogItem.updated_at))).one())
        built = self._built.get(database)
        if built and built[0] == version:
            return built[1]
        with self._lock:
            built = self._built.get(database)
            if built and built[0] == version:
                return built[1]
            index = CatalogIndex([entry(row) for row in s.scalars(select(CatalogItem))], synonyms())
            self._built.pop(database, None)
            self._built[database] = (version, index)
            while len(self._built) > self.KEEP:
                self._built.pop(next(iter(self._built)))
            return index


indexes = IndexCache()


PER_PAGE = 40


@dataclass
class Page:
    """One page of the catalog list: items grouped by category (one group of ranked results when searching)."""

    groups: list[tuple[str | None, list[CatalogItem]]]
    counts: list[tuple[str, int]]
    number: int
    pages: int
    total: int


def browse(s: Session, *, query: str = "", category: str = "", page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The catalog items that do not run on this platform (those are listed as services), a page at a time.

    Without a query: by category in the catalog's order, online services first. With one: best
    match first, as the assistant's index ranks them.
    """
    rows = list(s.scalars(select(CatalogItem).where(CatalogItem.service_key.is_(None))))
    counts = Counter(r.category for r in rows)
    order = {name: i for i, name in enumerate(categories())}
    if category:
        rows = [r for r in rows if r.category == category]
    if query:
        rank = {key: i for i, key in enumerate(indexes.get(s).matching(query))}
        rows = sorted((r for r in rows if r.key in rank), key=lambda r: rank[r.key])
    else:
        rows.sort(key=lambda r: (order.get(r.category, len(order)), not r.online, r.name))
    pages = max(1, math.ceil(len(rows) / per_page))
    number = min(max(1, page), pages)
    chunk = rows[(number - 1) * per_page:number * per_page]
    return Page(groups=[(None, chunk)] if query else _grouped(chunk),
                counts=sorted(counts.items(), key=lambda kv: order.get(kv[0], len(order))),
                number=number, pages=pages, total=len(rows))


def _grouped(rows: list[CatalogItem]) -> list[tuple[str | None, list[CatalogItem]]]:
    groups: list[tuple[str | None, list[CatalogItem]]] = []
    for row in rows:
        if not groups or groups[-1][0] != row.category:
            groups.append((row.category, []))
        groups[-1][1].append(row)
    return groups
