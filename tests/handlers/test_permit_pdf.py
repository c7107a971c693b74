import io
import re
from dataclasses import replace
from datetime import date

import pytest
import segno
from pypdf import PdfReader

from handlers.permit_pdf import PermitDocument, permit_html, render_permit_pdf
from tests.handlers.pdfs import all_noto_cjk, embedded_fonts

VERIFY_URL = "http://127.0.0.1:5000/verify/Ab3xQ9kL2mZp7RtY"


@pytest.fixture
def doc() -> PermitDocument:
    return PermitDocument(
        permit_no="LVP-2026-000123",
        holder_name="南瀛營造股份有限公司",
        holder_id_masked="2345****",
        vehicles=[
            {"plate": "KLA-1234", "type": "大貨車", "gross_weight": 35.0},
            {"plate": "KLB-5678", "type": "半聯結車", "gross_weight": 42.5},
        ],
        route_segments=[
            {"from": "永康交流道", "to": "台南科學園區", "roads": "中正北路、中山路", "districts": ["永康區", "新市區"]},
        ],
        valid_from=date(2026, 12, 1),
        valid_to=date(2026, 12, 31),
        time_windows=[{"start": "09:00", "end": "16:00"}],
        conditions=["應依核准路線及時段行駛", "遇交通管制應服從警察指揮"],
        issuing_agency="臺南市政府交通局",
        issued_on=date(2026, 11, 20),
        verify_url=VERIFY_URL,
    )


def pdf_reader(doc: PermitDocument) -> PdfReader:
    data = render_permit_pdf(doc)
    assert data.startswith(b"%PDF")
    return PdfReader(io.BytesIO(data))


def pdf_text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def qr_matrix_from_svg(html: str) -> list[list[int]]:
    """Rebuild the module matrix from the path segno draws (one horizontal run per dark stretch)."""
    svg = re.search(r'<svg viewBox="0 0 (\d+) \1" class="qr">.*?</svg>', html, re.S)
    assert svg, "QR svg not found in HTML"
    size = int(svg.group(1))
    grid = [[0] * size for _ in range(size)]
    x = y = 0.0
    path = re.search(r'\sd="([^"]+)"', svg.group(0)).group(1)
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for col in range(int(x), int(x + float(a))):
                grid[int(y)][col] = 1
            x += float(a)
    dark = [i for i, row in enumerate(grid) if any(row)]
    border = dark[0]
    return [row[border : size - border] for row in grid[border : size - border]]


def test_pdf_contains_permit_details(doc):
    reader = pdf_reader(doc)
    text = pdf_text(reader)
    for expected in [
        "LVP-2026-000123",
        "KLA-1234",
        "KLB-5678",
        "南瀛營造股份有限公司",
        "臺南市政府交通局",
        "永康區",
        "115年12月01日（2026-12-01）",
        "115年12月31日（2026-12-31）",
        "掃描驗證本通行證",
    ]:
        assert expected in text, expected
    assert "展延" not in text


def test_renewal_line(doc):
    text = pdf_text(pdf_reader(replace(doc, renewal_of="LVP-2026-000045")))
    assert "本證為第 LVP-2026-000045 號通行證之展延／續辦" in text


def test_embedded_fonts_are_noto_sans_cjk(doc):
    names = embedded_fonts(pdf_reader(doc))
    assert all_noto_cjk(names), names


def test_html_declares_traditional_chinese(doc):
    html = permit_html(doc)
    assert '<html lang="zh-Hant-TW">' in html


def test_qr_code_encodes_verify_url(doc):
    expected = segno.make_qr(VERIFY_URL, error="m", boost_error=False)
    assert expected.error == "M"
    html = permit_html(doc)
    assert qr_matrix_from_svg(html) == [list(row) for row in expected.matrix]
    assert VERIFY_URL in html


def test_holder_name_is_escaped(doc):
    evil = replace(doc, holder_name='<script>alert("x")</script>惡意公司')
    html = permit_html(evil)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<script>" in pdf_text(pdf_reader(evil))


def test_long_route_list_flows_onto_further_pages(doc):
    segments = [
        {"from": f"起點{i}", "to": f"迄點{i}", "roads": "中華路、東門路、西門路", "districts": ["東區", "中西區"]}
        for i in range(1, 40)
    ]
    segments.append({"from": "最後起點", "to": "七股鹽山", "roads": "台17線", "districts": ["七股區"]})
    reader = pdf_reader(replace(doc, route_segments=segments))
    assert len(reader.pages) > 1
    last_page = reader.pages[-1].extract_text()
    text = pdf_text(reader)
    assert "七股鹽山" in text and "七股區" in text
    assert "起點" in reader.pages[1].extract_text() and "行經行政區" in reader.pages[1].extract_text()
    assert f"共 {len(reader.pages)} 頁" in last_page
