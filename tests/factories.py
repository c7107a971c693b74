"""Sample applications and files, as a citizen would fill them in."""
from __future__ import annotations

import io
from datetime import date, timedelta

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def application_form(**overrides) -> dict:
    """The flat fields the application page posts, for a two-district route."""
    start = date.today() + timedelta(days=3)
    fields = {
        "applicant-kind": "company",
        "applicant-id_no": "53212539",
        "applicant-name": "南瀛營造股份有限公司",
        "applicant-responsible_person": "陳大文",
        "applicant-contact_name": "林小姐",
        "applicant-phone": "06-2991111",
        "applicant-email": "contact@example.tw",
        "purpose-category": "construction",
        "purpose-project_name": "永康區住宅新建工程",
        "purpose-site_address": "臺南市永康區中正路100號",
        "vehicles-0-plate": "KLA-1234",
        "vehicles-0-type": "大貨車",
        "vehicles-0-gross_weight": "35",
        "vehicles-0-licence_expiry": (start + timedelta(days=365)).isoformat(),
        "vehicles-1-plate": "KLB-5678",
        "vehicles-1-type": "聯結車",
        "vehicles-1-gross_weight": "42.5",
        "vehicles-1-licence_expiry": (start + timedelta(days=200)).isoformat(),
        "route_segments-0-from": "永康交流道",
        "route_segments-0-to": "南部科學園區",
        "route_segments-0-roads": "中正北路、中山路",
        "route_segments-0-districts": ["永康區", "新市區"],
        "period-start_date": start.isoformat(),
        "period-end_date": (start + timedelta(days=30)).isoformat(),
        "time_windows-0-start": "00:00",
        "time_windows-0-end": "23:59",
    }
    fields.update(overrides)
    return fields


def files(contract: bytes = PDF, route_map: bytes = PNG, contract_name: str = "contract.pdf") -> dict:
    return {
        "attachments-contract": (io.BytesIO(contract), contract_name),
        "attachments-route_map": (io.BytesIO(route_map), "route.png"),
    }
