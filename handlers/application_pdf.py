"""Printable application (申請書) of a case, unsigned or with the applicant's signature.

The citizen signs the unsigned document on their phone; the signed one is the same
document with a signature block (the image, the time, the SHA-256 of the unsigned
bytes) and carries those unsigned bytes as an embedded file, so anyone can check the
printed hash. Follows :mod:`handlers.permit_pdf`: plain Jinja2 with autoescape,
WeasyPrint, Noto Sans CJK TC.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader
from weasyprint import HTML, Attachment

from engine.calendar import TAIPEI
from engine.forms import Field, Form

from .permit_pdf import TEMPLATES, roc_date

LOCALE = "zh_TW"
UNSIGNED_FILENAME = "申請書.pdf"
CELL_SEPARATOR = "；"


@dataclass(frozen=True)
class Entry:
    """One field of the application as printed.

    ``kind`` is ``value`` (``lines``), ``group`` (``children``) or ``table``
    (``columns`` and ``rows`` of cell texts).
    """

    label: str
    kind: str = "value"
    lines: tuple[str, ...] = ()
    children: tuple[Entry, ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()

    def as_json(self) -> dict:
        return {"label": self.label, "kind": self.kind, "lines": list(self.lines),
                "children": [c.as_json() for c in self.children], "columns": list(self.columns),
                "rows": [list(r) for r in self.rows]}

    @classmethod
    def from_json(cls, data: Mapping) -> Entry:
        return cls(label=data["label"], kind=data["kind"], lines=tuple(data["lines"]),
                   children=tuple(cls.from_json(c) for c in data["children"]),
                   columns=tuple(data["columns"]), rows=tuple(tuple(r) for r in data["rows"]))


@dataclass(frozen=True)
class ApplicationDocument:
    """What the 申請書 shows; kept as JSON so the signed copy prints exactly what was signed."""

    document_id: str
    service_name: str
    case_number: str
    agency_name: str
    applicant_name: str
    applicant_id_masked: str
    applied_at: datetime
    prepared_at: datetime
    entries: tuple[Entry, ...] = field(default_factory=tuple)

    def as_json(self) -> dict:
        return {"document_id": self.document_id, "service_name": self.service_name,
                "case_number": self.case_number, "agency_name": self.agency_name,
                "applicant_name": self.applicant_name, "applicant_id_masked": self.applicant_id_masked,
                "applied_at": self.applied_at.isoformat(), "prepared_at": self.prepared_at.isoformat(),
                "entries": [e.as_json() for e in self.entries]}

    @classmethod
    def from_json(cls, data: Mapping) -> ApplicationDocument:
        return cls(document_id=data["document_id"], service_name=data["service_name"],
                   case_number=data["case_number"], agency_name=data["agency_name"],
                   applicant_name=data["applicant_name"], applicant_id_masked=data["applicant_id_masked"],
                   applied_at=datetime.fromisoformat(data["applied_at"]),
                   prepared_at=datetime.fromisoformat(data["prepared_at"]),
                   entries=tuple(Entry.from_json(e) for e in data["entries"]))


@dataclass(frozen=True)
class SignatureBlock:
    """The applicant's signature as printed under the signed copy."""

    image_png: bytes
    signed_at: datetime
    document_sha256: str
    request_id: str

    @property
    def image_data_url(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.image_png).decode("ascii")


def entries_of(form: Form, data: Mapping | None) -> tuple[Entry, ...]:
    """The application's fields under the form's labels; identifiers the form marks are masked."""
    return tuple(_entry(f, f.value_in(data or {})) for f in form.fields() if f.widget != "hidden")


def _entry(field_: Field, value: Any) -> Entry:
    label = field_.label(LOCALE)
    if field_.kind == "object":
        return Entry(label, "group", children=_children(field_, value))
    if field_.kind == "repeat":
        shown = [c for c in field_.children if c.widget != "hidden"]
        rows = tuple(tuple(_cell(c, c.value_in(row)) for c in shown) for row in field_.rows(value, pad=False))
        return Entry(label, "table", columns=tuple(c.label(LOCALE) for c in shown), rows=rows)
    return Entry(label, "value", lines=tuple(field_.lines(value, LOCALE)))


def _children(field_: Field, value: Any) -> tuple[Entry, ...]:
    return tuple(_entry(c, c.value_in(value)) for c in field_.children if c.widget != "hidden")


def _cell(field_: Field, value: Any) -> str:
    """A table cell is one line of text: a nested group reads ``label：value；…``."""
    if field_.kind == "object":
        parts = [f"{e.label}：{' '.join(e.lines)}" for e in _children(field_, value)
                 if e.kind == "value" and e.lines]
        return CELL_SEPARATOR.join(parts)
    if field_.kind == "repeat":
        return str(len(field_.rows(value, pad=False)))
    return " ".join(field_.lines(value, LOCALE))


def taipei_time(value: datetime) -> str:
    return value.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M:%S")


def taipei_roc_date(value: datetime) -> str:
    return roc_date(value.astimezone(TAIPEI).date())


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
_env.filters["taipei_time"] = taipei_time
_env.filters["taipei_roc_date"] = taipei_roc_date


def application_html(doc: ApplicationDocument, signature: SignatureBlock | None = None) -> str:
    return _env.get_template("application.html").render(doc=doc, signature=signature)


def render_application_pdf(doc: ApplicationDocument, signature: SignatureBlock | None = None,
                           unsigned_pdf: bytes | None = None) -> bytes:
    """The 申請書; with ``signature``, the signed copy, carrying ``unsigned_pdf`` as an embedded file.

    The base URL points at the template so its relative stylesheet link resolves.
    """
    attachments = []
    if unsigned_pdf is not None:
        attachments.append(Attachment(string=unsigned_pdf, name=UNSIGNED_FILENAME,
                                      description="民眾簽署之原始申請書", relationship="Source"))
    html = HTML(string=application_html(doc, signature), base_url=str(TEMPLATES / "application.html"))
    return html.write_pdf(attachments=attachments)
