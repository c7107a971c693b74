"""Turning a submitted HTML form into form data and uploads."""
from __future__ import annotations

from flask import request

from engine.documents import Upload, attachment_fields
from engine.forms import Form, UploadInfo


def read(form: Form) -> tuple[dict, dict[str, Upload]]:
    """Parse ``request.form`` by the form's schema; uploads keyed by field name.

    The content type of each file is sniffed from its bytes; what the browser
    claims is ignored.
    """
    uploads: dict[str, Upload] = {}
    for name, storage in request.files.items():
        if storage and storage.filename:
            content = storage.read()
            if content:
                uploads[name] = Upload(name, storage.filename, content)
    infos = {name: UploadInfo(u.filename, u.content_type, u.size) for name, u in uploads.items()}
    data = form.parse(request.form, infos)
    return data, uploads


def has_attachments(form: Form, data: dict) -> bool:
    return bool(attachment_fields(form.schema, data))


def field_label(form: Form, name: str, locale: str) -> str:
    """「車輛 1 · 車牌號碼」 for ``vehicles-0-plate``: where a value sits, as people read it."""
    parts, fields, labels = name.split("-"), form.fields(), []
    while parts:
        key = parts.pop(0)
        field = next((f for f in fields if f.key == key), None)
        if field is None:
            break
        label = field.label(locale)
        if field.kind == "repeat" and parts and parts[0].isdigit():
            label = f"{label} {int(parts.pop(0)) + 1}"
        labels.append(label)
        fields = field.children
    return " · ".join(labels)
