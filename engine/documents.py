"""Files attached to drafts and cases: type sniffing and storage."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from .models import Document

_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def sniff(content: bytes) -> str:
    """The content type the bytes really have; the browser's claim is not trusted."""
    for magic, content_type in _SIGNATURES:
        if content.startswith(magic):
            return content_type
    return "application/octet-stream"


@dataclass(frozen=True)
class Upload:
    """A file received from a person, not yet stored."""

    field: str
    filename: str
    content: bytes

    @property
    def content_type(self) -> str:
        return sniff(self.content)

    @property
    def size(self) -> int:
        return len(self.content)


def store(session: Session, upload: Upload, owner_id: str, *, case_id: str | None = None,
          draft_id: str | None = None) -> Document:
    doc = Document(
        owner_id=owner_id,
        case_id=case_id,
        draft_id=draft_id,
        filename=upload.filename[-200:],
        content_type=upload.content_type,
        size=upload.size,
        sha256=hashlib.sha256(upload.content).hexdigest(),
        content=upload.content,
    )
    session.add(doc)
    session.flush()
    return doc


def descriptor(doc: Document) -> dict:
    return {
        "document_id": doc.id,
        "filename": doc.filename,
        "content_type": doc.content_type,
        "size": doc.size,
        "upload": None,
    }


def attachment_fields(schema: dict, data: Mapping, prefix: str = "") -> list[tuple[str, dict]]:
    """(field name, descriptor) for every attachment value present in ``data``."""
    found = []
    for name, prop in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        value = data.get(name) if isinstance(data, Mapping) else None
        if value is None:
            continue
        if "x-attachment" in prop and isinstance(value, Mapping):
            found.append((path, dict(value)))
        elif prop.get("type") == "object" and isinstance(value, Mapping):
            found += attachment_fields(prop, value, f"{path}-")
        elif prop.get("type") == "array" and isinstance(value, list):
            items = prop.get("items") or {}
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    found += attachment_fields(items, item, f"{path}-{i}-")
    return found


def set_path(data: dict, path: str, value: Any) -> None:
    parts = path.split("-")
    target: Any = data
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    target[parts[-1]] = value
