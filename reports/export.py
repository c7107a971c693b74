"""A report's table as CSV, XLSX and PDF (zh-TW, agency and period in the page header, page numbers)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)


def to_csv(table: Table) -> str:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return "\ufeff" + out.getvalue()


def to_xlsx(table: Table) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = table.title[:31]
    sheet.append(table.columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append(list(row))
    for i, column in enumerate(table.columns, start=1):
        width = max([len(str(column))] + [len(str(r[i - 1])) for r in table.rows if len(r) >= i])
        sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(60, 4 + width * 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_pdf(tables: list[Table], agency: str, period: str, generated: datetime, title: str) -> bytes:
    from weasyprint import HTML

    html = _env.get_template("report.html").render(tables=tables, agency=agency, period=period,
                                                    generated=generated, title=title)
    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
