"""Masking of identifiers shown on screens, in PDFs and in logs."""
from __future__ import annotations


def mask_id(value: str | None) -> str:
    """National ID ``A123456789`` → ``A12****789``; business ID ``12345678`` → ``1234****``."""
    if not value:
        return ""
    if len(value) == 10:
        return f"{value[:3]}****{value[-3:]}"
    if len(value) == 8:
        return f"{value[:4]}****"
    keep = max(1, len(value) // 4)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def mask_name(value: str | None) -> str:
    """王小明 → 王○明; two characters → 王○."""
    if not value:
        return ""
    if len(value) <= 2:
        return value[0] + "○"
    return value[0] + "○" * (len(value) - 2) + value[-1]


def mask_address(value: str | None) -> str:
    """Keep the city and district, hide the rest: 臺南市永康區中正路100號 → 臺南市永康區＊＊＊."""
    if not value:
        return ""
    for marker in ("區", "鄉", "鎮", "市"):
        at = value.find(marker, 3)
        if at != -1:
            return value[: at + 1] + "＊＊＊"
    return value[:3] + "＊＊＊"
