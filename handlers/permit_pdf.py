"""Printable large-vehicle restricted-road permit (大型車輛行駛管制道路通行證)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from weasyprint import HTML

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class PermitDocument:
    permit_no: str
    holder_name: str
    holder_id_masked: str
    vehicles: list[dict]
    route_segments: list[dict]
    valid_from: date
    valid_to: date
    time_windows: list[dict]
    conditions: list[str]
    issuing_agency: str
    issued_on: date
    verify_url: str
    renewal_of: str | None = None


def roc_date(d: date) -> str:
    """Format as 民國 date followed by ISO, e.g. 115年12月01日（2026-12-01）."""
    return f"{d.year - 1911}年{d.month:02d}月{d.day:02d}日（{d.isoformat()}）"


def tonnes(weight: float) -> str:
    return f"{float(weight):g}"


def qr_svg(url: str) -> Markup:
    """Inline SVG QR code for ``url``.

    Error level is pinned to M (no automatic boosting) and micro QR codes are
    excluded so that the printed symbol is predictable and readable by any
    phone camera.
    """
    qr = segno.make_qr(url, error="m", boost_error=False)
    return Markup(qr.svg_inline(scale=1, border=4, omitsize=True, svgclass="qr", dark="#000"))


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
_env.filters["roc_date"] = roc_date
_env.filters["tonnes"] = tonnes


def permit_html(doc: PermitDocument) -> str:
    return _env.get_template("permit.html").render(doc=doc, qr=qr_svg(doc.verify_url))


def render_permit_pdf(doc: PermitDocument) -> bytes:
    """The base URL points at the template so its relative stylesheet link resolves."""
    return HTML(string=permit_html(doc), base_url=str(TEMPLATES / "permit.html")).write_pdf()
