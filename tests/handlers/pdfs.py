"""What tests read out of a rendered PDF."""
from __future__ import annotations

from pypdf import PdfReader


def embedded_fonts(reader: PdfReader) -> set[str]:
    """The BaseFont names of every font the pages use."""
    names = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            names.add(str(ref.get_object()["/BaseFont"]))
    return names


def all_noto_cjk(names: set[str]) -> bool:
    return bool(names) and all("NotoSansCJK" in n.replace("-", "").replace(" ", "") for n in names)
