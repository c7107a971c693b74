"""Schema-driven forms for BPMN user tasks.

A form lives in ``forms/<key>.json`` as ``{"title", "title_en", "schema", "ui"}``:
a JSON Schema (draft 2020-12) describing the submitted data and a UI schema,
nested like the data, holding ``ui:*`` presentation hints.

HTML field names are property paths joined with ``-`` (``applicant-name``,
``vehicles-0-plate``); validation errors are keyed by the same names so the
renderer can put each message next to its input.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Protocol

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from .masking import mask_address, mask_id

__all__ = [
    "FORM_ERROR_KEY",
    "FORMAT_CHECKER",
    "Derivation",
    "DerivationError",
    "Field",
    "Form",
    "FormDefinitionError",
    "FormNotFound",
    "FormOverlay",
    "FormRegistry",
    "Option",
    "UploadInfo",
    "check_form_definition",
    "form_from_definition",
    "is_form_key",
    "is_tw_business_id",
    "is_tw_national_id",
]

FORM_ERROR_KEY = "__form__"
"""Error key for problems that belong to no single field (e.g. data that is not an object)."""

UI_KEYS = frozenset(
    {
        "ui:order",
        "ui:widget",
        "ui:help",
        "ui:help_en",
        "ui:placeholder",
        "ui:placeholder_en",
        "ui:title_en",
        "ui:enumNames",
        "ui:enumNames_en",
        "ui:messages",
        "ui:messages_en",
        "ui:transform",
        "ui:autocomplete",
        "ui:rows",
        "ui:mask",
        "ui:choices",  # options the web layer supplies when it renders (``Form.with_choices``)
    }
)
WIDGETS = frozenset(
    {"text", "textarea", "radio", "select", "checkboxes", "date", "time", "email", "tel", "hidden", "file",
     "route-map"}
)
JSON_WIDGETS = frozenset({"route-map"})
"""Widgets whose value is a JSON object submitted as text (a GeoJSON LineString for ``route-map``)."""
TRANSFORMS = frozenset({"upper", "nfkc"})
_FORM_KEYS = frozenset({"title", "title_en", "schema", "ui"})
_FORM_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_PROPERTY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ROW_INDEX = r"(0|[1-9][0-9]*)"
_PROBE_LIMIT = 1000

Derivation = Callable[[Any], Any]
"""Computes a derived field's value from its source's; raises ``DerivationError`` when it cannot."""


# --------------------------------------------------------------------------
# Formats

def is_tw_national_id(value: str) -> bool:
    """Taiwan national ID: letter, sex digit 1/2, 8 digits, weighted checksum mod 10."""
    if not re.fullmatch(r"[A-Z][12][0-9]{8}", value):
        return False
    letter_code = "ABCDEFGHJKLMNPQRSTUVXYWZIO".index(value[0]) + 10
    digits = [letter_code // 10, letter_code % 10] + [int(c) for c in value[1:]]
    weights = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)
    return sum(d * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


def is_tw_business_id(value: str) -> bool:
    """統一編號 under the current (mod 5) rule.

    When the 7th digit is 7 its product 28 contributes 10, which may count as
    either 1 or 0; hence the second chance with ``sum + 1``.
    """
    if not re.fullmatch(r"[0-9]{8}", value):
        return False
    digits = [int(c) for c in value]
    total = sum(sum(divmod(d * w, 10)) for d, w in zip(digits, (1, 2, 1, 2, 1, 2, 4, 1), strict=True))
    return total % 5 == 0 or (digits[6] == 7 and (total + 1) % 5 == 0)


def _is_date(value: str) -> bool:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_time(value: str) -> bool:
    return re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value) is not None


def _is_email(value: str) -> bool:
    return len(value) <= 254 and re.fullmatch(r"[^\s@]+@[^\s@.]+(\.[^\s@.]+)+", value) is not None


def _format_checker() -> FormatChecker:
    """Only the formats forms use, all enforced; a format applies to strings only."""
    checker = FormatChecker(formats=())
    for name, check in {
        "date": _is_date,
        "time": _is_time,
        "email": _is_email,
        "tw-national-id": is_tw_national_id,
        "tw-business-id": is_tw_business_id,
    }.items():
        checker.checks(name)(lambda value, check=check: not isinstance(value, str) or check(value))
    return checker


FORMAT_CHECKER = _format_checker()


# --------------------------------------------------------------------------
# Custom keywords

_BASE_PROPERTIES = Draft202012Validator.VALIDATORS["properties"]


def _required(validator, required, instance, schema) -> Iterator[ValidationError]:
    """Like ``required`` but the error path names the missing property, so it lands on that field."""
    if not validator.is_type(instance, "object"):
        return
    for name in required:
        if name not in instance:
            yield ValidationError(f"{name!r} is a required property", path=[name])


def _properties(validator, properties, instance, schema) -> Iterator[ValidationError]:
    """``properties`` plus ``x-after``, which needs the sibling values only the parent object sees."""
    yield from _BASE_PROPERTIES(validator, properties, instance, schema)
    if not validator.is_type(instance, "object"):
        return
    for name, subschema in properties.items():
        other = subschema.get("x-after") if isinstance(subschema, Mapping) else None
        if not isinstance(other, str) or name not in instance or other not in instance:
            continue
        value, earlier = instance[name], instance[other]
        fmt = subschema.get("format")
        if _comparable(validator, fmt, value) and _comparable(validator, fmt, earlier) and value < earlier:
            yield ValidationError(
                f"{value!r} is earlier than {other} ({earlier!r})",
                validator="x-after",
                validator_value=other,
                instance=value,
                schema=subschema,
                path=[name],
                schema_path=[name, "x-after"],
            )


def _comparable(validator, fmt: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    checker = validator.format_checker
    return not (isinstance(fmt, str) and checker is not None and not checker.conforms(value, fmt))


def _attachment(validator, spec, instance, schema) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    if not _is_descriptor(instance):
        yield ValidationError("not an attachment descriptor", schema_path=["descriptor"])
        return
    accept = spec.get("accept") if isinstance(spec, Mapping) else None
    content_type = instance.get("content_type")
    if accept and isinstance(content_type, str) and _media_type(content_type) not in accept:
        yield ValidationError(f"{content_type!r} is not accepted", schema_path=["accept"])
    max_bytes = spec.get("maxBytes") if isinstance(spec, Mapping) else None
    size = instance.get("size")
    if isinstance(max_bytes, int) and isinstance(size, int) and size > max_bytes:
        yield ValidationError(f"{size} bytes exceeds {max_bytes}", schema_path=["maxBytes"])


def _is_descriptor(value: Mapping) -> bool:
    filename = value.get("filename")
    optional = {"content_type": str, "size": int, "document_id": str, "upload": str}
    return (
        isinstance(filename, str)
        and bool(filename)
        and all(value.get(k) is None or isinstance(value[k], t) for k, t in optional.items())
        and not isinstance(value.get("size"), bool)
        and bool(value.get("document_id") or value.get("upload"))
    )


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_FormValidator = validators.extend(
    Draft202012Validator,
    {"required": _required, "properties": _properties, "x-attachment": _attachment},
)


# --------------------------------------------------------------------------
# Messages

_MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "required": "此欄位為必填",
        "type.number": "請輸入數字",
        "type.integer": "請輸入整數",
        "type": "資料格式不正確",
        "minimum": "不可小於 {n}",
        "exclusiveMinimum": "必須大於 {n}",
        "maximum": "不可大於 {n}",
        "exclusiveMaximum": "必須小於 {n}",
        "minLength": "至少 {n} 個字",
        "maxLength": "最多 {n} 個字",
        "enum": "請從選項中選擇",
        "const": "請從選項中選擇",
        "minItems": "至少需要 {n} 筆",
        "maxItems": "最多 {n} 筆",
        "uniqueItems": "不可重複",
        "pattern": "格式不正確",
        "format": "格式不正確",
        "format.date": "日期格式不正確（YYYY-MM-DD）",
        "format.time": "時間格式不正確（HH:MM）",
        "format.email": "電子郵件格式不正確",
        "format.tw-national-id": "身分證字號不正確",
        "format.tw-business-id": "統一編號不正確",
        "x-after": "「{title}」不可早於「{other}」",
        "x-attachment.accept": "檔案類型不支援，請上傳 {types}",
        "x-attachment.maxBytes": "檔案過大（上限 {size}）",
        "x-attachment.descriptor": "檔案資料不完整，請重新上傳",
        "x-derived": "「{title}」須依「{source}」計算，與填寫的內容不符",
        "x-derived.unavailable": "目前無法處理此欄位，請稍後再試",
        "invalid": "輸入內容不正確",
    },
    "en": {
        "required": "This field is required",
        "type.number": "Enter a number",
        "type.integer": "Enter a whole number",
        "type": "Invalid value",
        "minimum": "Must not be less than {n}",
        "exclusiveMinimum": "Must be greater than {n}",
        "maximum": "Must not be greater than {n}",
        "exclusiveMaximum": "Must be less than {n}",
        "minLength": "Enter at least {n} characters",
        "maxLength": "Enter at most {n} characters",
        "enum": "Choose one of the options",
        "const": "Choose one of the options",
        "minItems": "At least {n} required",
        "maxItems": "No more than {n} allowed",
        "uniqueItems": "Must not contain duplicates",
        "pattern": "Invalid format",
        "format": "Invalid format",
        "format.date": "Invalid date (YYYY-MM-DD)",
        "format.time": "Invalid time (HH:MM)",
        "format.email": "Invalid email address",
        "format.tw-national-id": "Invalid national ID number",
        "format.tw-business-id": "Invalid business ID number",
        "x-after": "“{title}” must not be earlier than “{other}”",
        "x-attachment.accept": "Unsupported file type; please upload {types}",
        "x-attachment.maxBytes": "File too large (limit {size})",
        "x-attachment.descriptor": "File details are incomplete; please upload the file again",
        "x-derived": "“{title}” is computed from “{source}” and does not match what was entered",
        "x-derived.unavailable": "This field cannot be processed right now; please try again later",
        "invalid": "Invalid value",
    },
}

_UI_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "add": "新增一筆",
        "remove": "移除",
        "choose": "請選擇",
        "uploaded": "已上傳：{filename}，重新選擇檔案可取代",
        "yes": "是",
        "no": "否",
        "list_separator": "、",
    },
    "en": {
        "add": "Add another",
        "remove": "Remove",
        "choose": "Choose…",
        "uploaded": "Uploaded: {filename}. Choose a new file to replace it",
        "yes": "Yes",
        "no": "No",
        "list_separator": ", ",
    },
}

_MEDIA_LABELS = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
    "image/webp": "WebP",
}


_LIMIT_KEYWORDS = frozenset(
    {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems"}
)


def _lang(locale: Any) -> str:
    return "en" if str(locale or "").lower().startswith("en") else "zh"


def ui_text(key: str, locale: Any = "zh_TW", **params: Any) -> str:
    """Fixed interface wording (buttons, notes) in the locale."""
    return _UI_TEXT[_lang(locale)][key].format(**params)


def _number(n: Any) -> str:
    if isinstance(n, float) and n.is_integer():
        return str(int(n))
    return str(n)


def _join_choices(labels: list[str], lang: str) -> str:
    if len(labels) < 2:
        return "".join(labels)
    last = "或" if lang == "zh" else "or"
    head = ("、" if lang == "zh" else ", ").join(labels[:-1])
    return f"{head} {last} {labels[-1]}"


def _size_label(n: int) -> str:
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= factor:
            return f"{_number(round(n / factor, 1))} {unit}"
    return f"{n} B"


# --------------------------------------------------------------------------
# Schema helpers

def _types(schema: Mapping) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    return set()


def _is_attachment(schema: Mapping) -> bool:
    return "x-attachment" in schema


def _is_object(schema: Mapping) -> bool:
    return isinstance(schema.get("properties"), Mapping) and not _is_attachment(schema)


def _items(schema: Mapping) -> Mapping:
    items = schema.get("items")
    return items if isinstance(items, Mapping) else {}


def _is_repeat(schema: Mapping) -> bool:
    return "array" in _types(schema) and _is_object(_items(schema))


def _is_leaf(schema: Mapping) -> bool:
    return not (_is_object(schema) or _is_repeat(schema))


def _is_json_leaf(schema: Mapping) -> bool:
    """An object value without declared properties (a GeoJSON geometry): one input carries it as JSON text."""
    return "object" in _types(schema) and _is_leaf(schema) and not _is_attachment(schema)


def _dict(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _child_ui(ui: Mapping, key: str) -> Mapping:
    return _dict(ui.get(key))


def _items_ui(ui: Mapping) -> Mapping:
    """UI for array items: under ``items`` (as in react-jsonschema-form) or directly on the array."""
    items = ui.get("items")
    return items if isinstance(items, Mapping) else ui


def _ordered(properties: Mapping, ui: Mapping) -> list[str]:
    """Property names in ``ui:order``; ``*`` (or the end of the list) stands for the rest in schema order."""
    listed = ui.get("ui:order")
    order = list(dict.fromkeys(k for k in listed if k == "*" or k in properties)) if isinstance(listed, list) else []
    rest = [k for k in properties if k not in order]
    if "*" not in order:
        order.append("*")
    at = order.index("*")
    return order[:at] + rest + [k for k in order[at + 1 :] if k != "*"]


def _join(prefix: str, key: str | int) -> str:
    return f"{prefix}-{key}" if prefix else str(key)


def _ignored_on_input(schema: Mapping, ui: Mapping) -> bool:
    """Hidden and read-only properties are never taken from a submission."""
    return ui.get("ui:widget") == "hidden" or schema.get("readOnly") is True


# --------------------------------------------------------------------------
# Field tree

@dataclass(frozen=True, eq=False)
class Option:
    value: Any
    label_zh: str
    label_en: str

    def label(self, locale: Any = "zh_TW") -> str:
        return self.label_en if _lang(locale) == "en" else self.label_zh


@dataclass(frozen=True, eq=False)
class Field:
    """One property as the renderer sees it.

    ``kind`` is one of ``object`` (fieldset), ``repeat`` (array of objects),
    ``multi`` (array of choices), ``attachment``, ``boolean`` or ``value``;
    ``widget`` is the resolved ``ui:widget``.
    """

    key: str
    kind: str
    widget: str
    schema: Mapping
    ui: Mapping
    required: bool
    children: tuple[Field, ...] = ()
    options: tuple[Option, ...] = ()

    def name(self, prefix: str = "") -> str:
        return _join(prefix, self.key)

    def label(self, locale: Any = "zh_TW") -> str:
        title = str(self.schema.get("title") or self.key)
        return str(self.ui.get("ui:title_en") or title) if _lang(locale) == "en" else title

    def help(self, locale: Any = "zh_TW") -> str:
        return self._localized("ui:help", locale)

    def placeholder(self, locale: Any = "zh_TW") -> str:
        return self._localized("ui:placeholder", locale)

    def _localized(self, key: str, locale: Any) -> str:
        if _lang(locale) == "en":
            return str(self.ui.get(f"{key}_en") or self.ui.get(key) or "")
        return str(self.ui.get(key) or "")

    def text(self, key: str, locale: Any = "zh_TW", **params: Any) -> str:
        return ui_text(key, locale, **params)

    @property
    def input_type(self) -> str:
        if self.widget in {"date", "time", "email", "tel", "hidden"}:
            return self.widget
        return "text"

    @property
    def input_mode(self) -> str | None:
        """Numbers use text inputs so that whatever was typed survives a failed validation."""
        types = _types(self.schema)
        if "integer" in types:
            return "numeric"
        if "number" in types:
            return "decimal"
        return None

    @property
    def autocomplete(self) -> str | None:
        value = self.ui.get("ui:autocomplete")
        return str(value) if value else None

    @property
    def textarea_rows(self) -> int:
        rows = self.ui.get("ui:rows")
        return rows if isinstance(rows, int) and rows > 0 else 4

    @property
    def min_items(self) -> int:
        value = self.schema.get("minItems", 0)
        return value if isinstance(value, int) else 0

    @property
    def max_items(self) -> int | None:
        value = self.schema.get("maxItems")
        return value if isinstance(value, int) else None

    @property
    def accept(self) -> str:
        spec = _dict(self.schema.get("x-attachment"))
        return ",".join(str(t) for t in spec.get("accept", []))

    def value_in(self, data: Any) -> Any:
        return data.get(self.key) if isinstance(data, Mapping) else None

    def rows(self, value: Any, pad: bool = True) -> list[Mapping]:
        """Rows to render; padded with empty rows up to ``minItems`` for input forms."""
        rows = [row if isinstance(row, Mapping) else {} for row in value] if isinstance(value, list) else []
        if pad:
            rows += [self.new_row() for _ in range(self.min_items - len(rows))]
        return rows

    def new_row(self) -> dict:
        default = _defaults(_items(self.schema))
        return default if isinstance(default, dict) else {}

    def text_value(self, value: Any) -> str:
        """Value for an input's ``value`` attribute."""
        if value is None or isinstance(value, (Mapping, list)):
            return ""
        if isinstance(value, bool):
            return "true" if value else ""
        return _number(value) if isinstance(value, float) else str(value)

    def is_selected(self, value: Any, option: Option) -> bool:
        target = self.text_value(option.value)
        if isinstance(value, list):
            return any(self.text_value(v) == target for v in value)
        return value is not None and self.text_value(value) == target

    def option_label(self, value: Any, locale: Any = "zh_TW") -> str:
        for option in self.options:
            if self.text_value(option.value) == self.text_value(value):
                return option.label(locale)
        return self.text_value(value)

    def stored_document(self, value: Any) -> Mapping | None:
        """The descriptor of an already stored file, if ``value`` is one."""
        if isinstance(value, Mapping) and value.get("document_id") and value.get("filename"):
            return value
        return None

    @property
    def masked(self) -> bool:
        """Identifiers and addresses marked ``ui:mask`` are shown masked unless revealed."""
        return self.ui.get("ui:mask") in ("id", "address")

    def display(self, value: Any, locale: Any = "zh_TW", reveal: bool = False) -> str:
        """Read-only text for a value: enum codes become labels, identifiers are masked."""
        if value is None or value == "" or value == []:
            return ""
        if self.masked and not reveal:
            mask = mask_address if self.ui.get("ui:mask") == "address" else mask_id
            return mask(self.text_value(value))
        if self.kind == "attachment":
            return str(value.get("filename", "")) if isinstance(value, Mapping) else ""
        if isinstance(value, bool):
            return ui_text("yes" if value else "no", locale)
        if isinstance(value, list):
            return ui_text("list_separator", locale).join(self.option_label(v, locale) for v in value)
        if self.options:
            return self.option_label(value, locale)
        return self.text_value(value)

    def lines(self, value: Any, locale: Any = "zh_TW", reveal: bool = False) -> list[str]:
        return self.display(value, locale, reveal).splitlines()

    @property
    def derived_from(self) -> str | None:
        """The sibling property this field is computed from (``x-derived``), if any."""
        source = _dict(self.schema.get("x-derived")).get("from")
        return str(source) if source else None

    def json_text(self, value: Any) -> str:
        """A JSON-valued field's value as the text its input carries."""
        if value is None or value == "":
            return ""
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _build_fields(schema: Mapping, ui: Mapping) -> tuple[Field, ...]:
    properties = _dict(schema.get("properties"))
    required = set(schema.get("required", []))
    return tuple(
        _build_field(key, _dict(properties[key]), _child_ui(ui, key), key in required)
        for key in _ordered(properties, ui)
    )


def _build_field(key: str, schema: Mapping, ui: Mapping, required: bool) -> Field:
    kind = _kind(schema)
    children: tuple[Field, ...] = ()
    if kind == "object":
        children = _build_fields(schema, ui)
    elif kind == "repeat":
        children = _build_fields(_items(schema), _items_ui(ui))
    choice_schema = _items(schema) if kind == "multi" else schema
    return Field(
        key=key,
        kind=kind,
        widget=str(ui.get("ui:widget") or _default_widget(kind, schema)),
        schema=schema,
        ui=ui,
        required=required,
        children=children,
        options=_options(choice_schema, ui),
    )


def _kind(schema: Mapping) -> str:
    if _is_attachment(schema):
        return "attachment"
    if _is_object(schema):
        return "object"
    if _is_repeat(schema):
        return "repeat"
    if "array" in _types(schema):
        return "multi"
    if _types(schema) == {"boolean"}:
        return "boolean"
    return "value"


_KIND_WIDGETS = {
    "object": "fieldset",
    "repeat": "repeat",
    "multi": "checkboxes",
    "attachment": "file",
    "boolean": "checkbox",
}


def _default_widget(kind: str, schema: Mapping) -> str:
    if kind in _KIND_WIDGETS:
        return _KIND_WIDGETS[kind]
    if "enum" in schema:
        return "select"
    if schema.get("format") in {"date", "time", "email"}:
        return str(schema["format"])
    return "text"


def _options(schema: Mapping, ui: Mapping) -> tuple[Option, ...]:
    values = schema.get("enum")
    if not isinstance(values, list):
        return ()
    names = ui.get("ui:enumNames") or []
    names_en = ui.get("ui:enumNames_en") or []
    options = []
    for i, value in enumerate(values):
        zh = str(names[i]) if i < len(names) else str(value)
        en = str(names_en[i]) if i < len(names_en) else zh
        options.append(Option(value=value, label_zh=zh, label_en=en))
    return tuple(options)


_MISSING = object()


def _defaults(schema: Mapping) -> Any:
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if not _is_object(schema):
        return _MISSING
    found = {}
    for key, sub in _dict(schema.get("properties")).items():
        value = _defaults(_dict(sub))
        if value is not _MISSING:
            found[key] = value
    return found or _MISSING


# --------------------------------------------------------------------------
# Parsing submitted form data

class FormData(Protocol):
    def getlist(self, key: str) -> list[Any]: ...

    def __contains__(self, key: object) -> bool: ...


@dataclass(frozen=True)
class UploadInfo:
    """What the web layer learned from an uploaded file.

    ``content_type`` must be sniffed from the file's bytes by the web layer,
    never copied from the browser's claim.
    """

    filename: str
    content_type: str
    size: int


_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


class _Reader:
    def __init__(self, formdata: FormData, files: Mapping[str, UploadInfo]) -> None:
        self.formdata = formdata
        self.files = files
        self.names = _names_of(formdata)

    def strings(self, name: str) -> list[str]:
        if name not in self.formdata:
            return []
        return [v for v in self.formdata.getlist(name) if isinstance(v, str)]

    def first(self, name: str) -> str | None:
        values = self.strings(name)
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return name in self.formdata or name in self.files

    def row_indices(self, prefix: str, probes: list[str]) -> list[int]:
        """Row indices present in the submission, ascending (rows removed client-side leave gaps)."""
        if self.names is not None:
            pattern = re.compile(re.escape(prefix) + "-" + _ROW_INDEX + "-")
            return sorted({int(m.group(1)) for n in (*self.names, *self.files) if (m := pattern.match(n))})
        return [
            i for i in range(_PROBE_LIMIT) if any(self.has(f"{prefix}-{i}-{probe}") for probe in probes)
        ]


def _names_of(formdata: Any) -> list[str] | None:
    """All field names when the form data can list them (MultiDict can); ``None`` means probe by name."""
    try:
        keys = formdata.keys() if hasattr(formdata, "keys") else iter(formdata)
        return [k for k in keys if isinstance(k, str)]
    except TypeError:
        return None


def _leaf_names(schema: Mapping) -> list[str]:
    """Field-name suffixes under an object, for probing form data that cannot list its names."""
    names = []
    for key, sub in _dict(schema.get("properties")).items():
        sub = _dict(sub)
        if _is_object(sub):
            names += [f"{key}-{leaf}" for leaf in _leaf_names(sub)]
        elif _is_repeat(sub):
            names += [f"{key}-0-{leaf}" for leaf in _leaf_names(_items(sub))]
        else:
            names += [key, f"{key}__document"]
    return names


def _parse_object(schema: Mapping, ui: Mapping, prefix: str, reader: _Reader) -> dict:
    result = {}
    for key, sub in _dict(schema.get("properties")).items():
        sub, sub_ui = _dict(sub), _child_ui(ui, key)
        if _ignored_on_input(sub, sub_ui):
            continue
        value = _parse_node(sub, sub_ui, _join(prefix, key), reader)
        if value is not _MISSING:
            result[key] = value
    return result


def _parse_node(schema: Mapping, ui: Mapping, name: str, reader: _Reader) -> Any:
    if _is_attachment(schema):
        return _parse_attachment(name, reader)
    if _is_object(schema):
        return _parse_object(schema, ui, name, reader)
    if _is_repeat(schema):
        return _parse_rows(schema, ui, name, reader)
    if "array" in _types(schema):
        return _parse_multi(schema, ui, name, reader)
    if _types(schema) == {"boolean"}:
        return any(v.strip().lower() not in {"", "0", "false", "off", "no"} for v in reader.strings(name))
    raw = reader.first(name)
    if raw is None:
        return _MISSING
    return _json_value(raw) if _is_json_leaf(schema) else _scalar(raw, schema, ui)


def _parse_rows(schema: Mapping, ui: Mapping, name: str, reader: _Reader) -> list:
    items, items_ui = _items(schema), _items_ui(ui)
    indices = reader.row_indices(name, _leaf_names(items))
    max_items = schema.get("maxItems")
    if isinstance(max_items, int):
        indices = indices[: max_items + 1]
    return [_parse_object(items, items_ui, f"{name}-{i}", reader) for i in indices]


def _parse_multi(schema: Mapping, ui: Mapping, name: str, reader: _Reader) -> list:
    items = _items(schema)
    values = (_scalar(raw, items, ui) for raw in reader.strings(name))
    return [v for v in values if v is not _MISSING]


def _scalar(raw: str, schema: Mapping, ui: Mapping) -> Any:
    """Stripped text converted by schema type; unparseable numbers stay text so ``type`` reports them."""
    text = _transform(raw.strip(), ui.get("ui:transform"))
    if text == "":
        return _MISSING
    types = _types(schema)
    if "string" in types or not types & {"integer", "number"}:
        return text
    number = unicodedata.normalize("NFKC", text)
    if len(number) > 30:
        return text
    if _INTEGER_RE.fullmatch(number):
        return int(number) if "integer" in types else float(number)
    if "number" in types and _DECIMAL_RE.fullmatch(number):
        value = float(number)
        return value if math.isfinite(value) else text
    return text


def _json_value(raw: str) -> Any:
    """The JSON an input carries; text that is not JSON stays text so ``type`` reports it."""
    text = raw.strip()
    if text == "":
        return _MISSING
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _transform(text: str, transform: Any) -> str:
    if transform in TRANSFORMS:
        text = unicodedata.normalize("NFKC", text)
    if transform == "upper":
        text = text.upper()
    return text


def _parse_attachment(name: str, reader: _Reader) -> Any:
    upload = reader.files.get(name)
    if upload is not None and upload.filename:
        return {
            "filename": upload.filename,
            "content_type": upload.content_type,
            "size": upload.size,
            "document_id": None,
            "upload": name,
        }
    document_id = (reader.first(f"{name}__document") or "").strip()
    filename = (reader.first(f"{name}__filename") or "").strip()
    if document_id and filename:
        return {
            "filename": filename,
            "content_type": None,
            "size": None,
            "document_id": document_id,
            "upload": None,
        }
    return _MISSING


def _iter_attachments(schema: Mapping, data: Any, prefix: str) -> Iterator[tuple[str, dict]]:
    if not isinstance(data, Mapping):
        return
    for key, sub in _dict(schema.get("properties")).items():
        sub, value, name = _dict(sub), data.get(key), _join(prefix, key)
        if _is_attachment(sub) and isinstance(value, dict):
            yield name, value
        elif _is_object(sub):
            yield from _iter_attachments(sub, value, name)
        elif _is_repeat(sub) and isinstance(value, list):
            for i, row in enumerate(value):
                yield from _iter_attachments(_items(sub), row, f"{name}-{i}")


# --------------------------------------------------------------------------
# Form

class FormNotFound(LookupError):
    pass


class DerivationError(ValueError):
    """A derived field cannot be computed from its source value; the problem belongs to the source field.

    Form messages are localised here rather than by the web layer, so the
    error carries its wording in both languages.
    """

    def __init__(self, message: str, message_en: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en

    def text(self, locale: Any = "zh_TW") -> str:
        return self.message_en if _lang(locale) == "en" else self.message


class FormDefinitionError(ValueError):
    def __init__(self, key: str, problems: list[str]) -> None:
        super().__init__(f"form {key!r} is invalid: " + "; ".join(problems))
        self.key = key
        self.problems = problems


@dataclass(frozen=True)
class Form:
    key: str
    title: str
    title_en: str
    schema: dict
    ui: dict
    derivations: Mapping[str, Derivation] = dataclass_field(default_factory=dict, compare=False, repr=False)
    """The functions ``x-derived`` names, as the registry was given them."""

    def label(self, locale: Any = "zh_TW") -> str:
        return self.title_en if _lang(locale) == "en" and self.title_en else self.title

    def text(self, key: str, locale: Any = "zh_TW", **params: Any) -> str:
        return ui_text(key, locale, **params)

    def fields(self) -> list[Field]:
        return list(self._fields)

    @cached_property
    def _fields(self) -> tuple[Field, ...]:
        return _build_fields(self.schema, self.ui)

    @cached_property
    def has_attachments(self) -> bool:
        """Whether the page must use ``enctype="multipart/form-data"``."""
        return _any_attachment(self._fields)

    def choice_lists(self) -> dict[str, str]:
        """Top-level fields whose options are supplied at render time: field name -> list name."""
        return {key: str(ui["ui:choices"]) for key in _dict(self.schema.get("properties"))
                if (ui := _child_ui(self.ui, key)).get("ui:choices")}

    def with_choices(self, key: str, choices: Iterable[tuple[Any, str, str]]) -> "Form":
        """This form with the options of field ``key`` fixed: (value, zh-TW label, English label)."""
        choices = list(choices)
        schema, ui = copy.deepcopy(self.schema), copy.deepcopy(self.ui)
        schema["properties"][key]["enum"] = [value for value, _zh, _en in choices]
        ui[key] = {**ui.get(key, {}), "ui:enumNames": [zh for _v, zh, _en in choices],
                   "ui:enumNames_en": [en for _v, _zh, en in choices]}
        return replace(self, schema=schema, ui=ui)

    def defaults(self) -> dict:
        found = _defaults(self.schema)
        return found if isinstance(found, dict) else {}

    def parse(self, formdata: FormData, files: Mapping[str, UploadInfo] | None = None) -> dict:
        """Turn flat HTML form fields into data shaped like the schema.

        Only schema properties are read (hidden and read-only ones never are).
        Rows of repeated groups are taken in index order and renumbered from 0.
        An attachment is a new upload when ``files`` holds an ``UploadInfo``
        under its field name (``upload`` is then that name), otherwise a
        previously stored document named by ``<name>__document`` and
        ``<name>__filename``. Those two come from the browser: before trusting
        a ``document_id`` the web layer must check that the document belongs
        to this case and user, and should replace the descriptor with the
        stored one (which also supplies ``content_type`` and ``size``).
        Derived fields are then computed from their sources (see ``derive``).
        """
        return self.derive(_parse_object(self.schema, self.ui, "", _Reader(formdata, files or {})))

    @cached_property
    def _derives(self) -> bool:
        """Whether any field is computed from another: most forms have none, and skip the copy."""
        return "x-derived" in json.dumps(self.schema)

    def derive(self, data: Any) -> Any:
        """A copy of ``data`` with each ``x-derived`` field computed from its source.

        A field whose source is absent (or null) keeps what was entered, so a
        route without a drawn path keeps its hand-picked districts. When the
        derivation fails the entered value stays too; ``validate`` reports the
        failure on the source field.
        """
        if not self._derives or not isinstance(data, Mapping):
            return data
        result = copy.deepcopy(data)
        for container, key, spec, _prefix, source_schema in _derived_sites(self.schema, result, ""):
            outcome = self._derivation(container, spec, source_schema)
            if outcome is not _MISSING and not isinstance(outcome, DerivationError):
                container[key] = outcome
        return result

    def _derivation(self, container: Mapping, spec: Mapping, source_schema: Mapping) -> Any:
        """The derived value, a ``DerivationError``, or ``_MISSING`` when there is no usable source value.

        A source value its own schema rejects is not derived from: its schema error says what is wrong.
        """
        source = container.get(spec["from"])
        if source is None or not _FormValidator(source_schema, format_checker=FORMAT_CHECKER).is_valid(source):
            return _MISSING
        derive = self.derivations.get(spec["by"])
        if derive is None:
            return DerivationError(_MESSAGES["zh"]["x-derived.unavailable"], _MESSAGES["en"]["x-derived.unavailable"])
        try:
            return derive(source)
        except DerivationError as exc:
            return exc

    def attachments(self, data: Mapping) -> list[tuple[str, dict]]:
        """``(field name, descriptor)`` for every attachment in ``data``, for storing uploads and checking ownership."""
        return list(_iter_attachments(self.schema, data, ""))

    @cached_property
    def _validator(self) -> Any:
        return _FormValidator(self.schema, format_checker=FORMAT_CHECKER)

    def validate(self, data: dict, locale: str = "zh_TW") -> dict[str, list[str]]:
        """All problems with ``data`` as ``{field name: [messages]}``; ``{}`` when valid."""
        errors: dict[str, list[str]] = {}

        def add(name: str, message: str) -> None:
            if message not in errors.setdefault(name, []):
                errors[name].append(message)

        for error in _flatten(self._validator.iter_errors(data)):
            path = list(error.absolute_path)
            names, schema, ui = self._locate(path)
            add("-".join(names) or FORM_ERROR_KEY, self._message(error, names, schema, ui, _lang(locale)))
        for name, message in self._derivation_problems(data, _lang(locale)):
            if name not in errors:
                add(name, message)
        return errors

    def _derivation_problems(self, data: Any, lang: str) -> Iterator[tuple[str, str]]:
        """A failed derivation, on its source field; a derived value that differs from the computed one."""
        for container, key, spec, prefix, source_schema in _derived_sites(self.schema, data, ""):
            outcome = self._derivation(container, spec, source_schema)
            if outcome is _MISSING:
                continue
            if isinstance(outcome, DerivationError):
                yield _join(prefix, spec["from"]), outcome.text(lang)
            elif key in container and container[key] != outcome:
                names = prefix.split("-") if prefix else []
                yield _join(prefix, key), _MESSAGES[lang]["x-derived"].format(
                    title=self._title([*names, key], lang), source=self._title([*names, spec["from"]], lang))

    def _locate(self, path: Iterable[str | int]) -> tuple[list[str], Mapping, Mapping]:
        """The field an error path points at: descent stops at leaves (attachments, choice lists)."""
        names: list[str] = []
        schema: Mapping = self.schema
        ui: Mapping = self.ui
        for key in path:
            if _is_leaf(schema):
                break
            if isinstance(key, int):
                schema, ui = _items(schema), _items_ui(ui)
            else:
                schema, ui = _dict(_dict(schema.get("properties")).get(key)), _child_ui(ui, key)
            names.append(str(key))
        return names, schema, ui

    def _message(self, error: ValidationError, names: list[str], schema: Mapping, ui: Mapping, lang: str) -> str:
        keyword = str(error.validator)
        custom = _dict(ui.get("ui:messages_en" if lang == "en" else "ui:messages"))
        if isinstance(custom.get(keyword), str):
            return custom[keyword]
        catalog = _MESSAGES[lang]
        value = error.validator_value
        if keyword == "type":
            types = {value} if isinstance(value, str) else set(value or [])
            return catalog["type.integer" if "integer" in types else "type.number" if "number" in types else "type"]
        if keyword == "format":
            return catalog.get(f"format.{value}", catalog["format"])
        if keyword == "x-after":
            title = self._title(names, lang)
            other = self._title(names[:-1] + [str(value)], lang)
            return catalog["x-after"].format(title=title, other=other)
        if keyword == "x-attachment":
            return self._attachment_message(error, catalog, lang)
        if keyword in _LIMIT_KEYWORDS:
            return catalog[keyword].format(n=_number(value))
        return catalog.get(keyword, catalog["invalid"])

    def _title(self, names: list[str], lang: str) -> str:
        _, schema, ui = self._locate(int(n) if n.isdigit() else n for n in names)
        title = str(schema.get("title") or (names[-1] if names else ""))
        return str(ui.get("ui:title_en") or title) if lang == "en" else title

    @staticmethod
    def _attachment_message(error: ValidationError, catalog: Mapping[str, str], lang: str) -> str:
        spec = _dict(error.validator_value)
        problem = error.schema_path[-1] if error.schema_path else "descriptor"
        if problem == "accept":
            labels = [_MEDIA_LABELS.get(t, t.rsplit("/", 1)[-1].upper()) for t in spec.get("accept", [])]
            return catalog["x-attachment.accept"].format(types=_join_choices(labels, lang))
        if problem == "maxBytes":
            return catalog["x-attachment.maxBytes"].format(size=_size_label(int(spec.get("maxBytes", 0))))
        return catalog["x-attachment.descriptor"]


def _derived_sites(schema: Mapping, data: Any, prefix: str) -> Iterator[tuple[dict, str, Mapping, str, Mapping]]:
    """``(object holding the field, its key, x-derived spec, name prefix, source's schema)`` for each derived field."""
    if not isinstance(data, dict):
        return
    properties = _dict(schema.get("properties"))
    for key, sub in properties.items():
        sub = _dict(sub)
        spec = sub.get("x-derived")
        if isinstance(spec, Mapping) and isinstance(spec.get("from"), str) and isinstance(spec.get("by"), str):
            yield data, key, spec, prefix, _dict(properties.get(spec["from"]))
        value, name = data.get(key), _join(prefix, key)
        if _is_object(sub):
            yield from _derived_sites(sub, value, name)
        elif _is_repeat(sub) and isinstance(value, list):
            for i, row in enumerate(value):
                yield from _derived_sites(_items(sub), row, f"{name}-{i}")


def _any_attachment(fields: Iterable[Field]) -> bool:
    return any(f.kind == "attachment" or _any_attachment(f.children) for f in fields)


def _flatten(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """anyOf/oneOf failures are reported through their most relevant branch error."""
    for error in errors:
        if error.validator in {"anyOf", "oneOf"} and error.context:
            best = best_match(error.context)
            yield best if best is not None else error
        else:
            yield error


# --------------------------------------------------------------------------
# Registry and definition checks

class FormRegistry:
    """Forms loaded from ``<directory>/<key>.json``, checked once and cached.

    ``derivations`` are the functions ``x-derived`` may name; the application
    supplies them, so the engine needs to know nothing of what they compute.
    """

    def __init__(self, directory: Path, derivations: Mapping[str, Derivation] | None = None) -> None:
        self.directory = Path(directory)
        self.derivations: dict[str, Derivation] = dict(derivations or {})
        self._cache: dict[str, Form] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Form:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self.bind(self._load(key))
            return self._cache[key]

    def bind(self, form: Form) -> Form:
        """``form`` able to compute its derived fields with this registry's derivations."""
        return replace(form, derivations=self.derivations) if self.derivations else form

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.json") if is_form_key(p.stem))

    def path(self, key: str) -> Path:
        """The file holding form ``key``; FormNotFound for a key that names none (or no key at all)."""
        path = self.directory / f"{key}.json"
        if not is_form_key(key) or not path.is_file():
            raise FormNotFound(key)
        return path

    def _load(self, key: str) -> Form:
        path = self.path(key)
        stat = path.stat()
        return _checked(key, str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def is_form_key(key: str) -> bool:
    return bool(_FORM_KEY_RE.fullmatch(key or ""))


class FormOverlay:
    """The forms of one definition: those edited in the studio, over the files of a registry."""

    def __init__(self, base: FormRegistry, edited: Mapping[str, Mapping]) -> None:
        self.base = base
        self.edited = dict(edited)

    def get(self, key: str) -> Form:
        raw = self.edited.get(key)
        return self.base.get(key) if raw is None else self.base.bind(form_from_definition(key, raw))

    def raw(self, key: str) -> dict:
        """The JSON definition of a form, as the studio edits it."""
        if key in self.edited:
            return copy.deepcopy(dict(self.edited[key]))
        return json.loads(self.base.path(key).read_text(encoding="utf-8"))

    def keys(self) -> list[str]:
        return sorted({*self.base.keys(), *self.edited})


@lru_cache(maxsize=512)
def _checked(key: str, path: str, mtime_ns: int, size: int) -> Form:
    """A form file read and checked once per version of the file, however many registries ask.

    Checking a definition against the JSON Schema meta-schema is the slow part
    of loading one; the file's modification time and size name the version.
    """
    return _form(key, json.loads(Path(path).read_text(encoding="utf-8")))


def form_from_definition(key: str, raw: Mapping) -> Form:
    """A form from its JSON definition (a studio edit), checked once per distinct content."""
    return _checked_text(key, json.dumps(raw, ensure_ascii=False))


@lru_cache(maxsize=512)
def _checked_text(key: str, text: str) -> Form:
    return _form(key, json.loads(text))


def _form(key: str, raw: Any) -> Form:
    problems = check_form_definition(raw)
    if problems:
        raise FormDefinitionError(key, problems)
    return Form(key=key, title=raw["title"], title_en=raw["title_en"], schema=raw["schema"], ui=raw.get("ui", {}))


def check_form_definition(raw: dict) -> list[str]:
    """Problems that would make a form definition misbehave; ``[]`` when it is sound."""
    if not isinstance(raw, Mapping):
        return ["definition must be a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in raw if k not in _FORM_KEYS]
    problems += [f"missing {k!r}" for k in ("title", "title_en", "schema") if not raw.get(k)]
    schema, ui = raw.get("schema"), raw.get("ui", {})
    if not isinstance(ui, Mapping):
        problems.append("'ui' must be an object")
        ui = {}
    if not isinstance(schema, Mapping):
        return problems + (["'schema' must be an object"] if schema else [])
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "schema"
        return problems + [f"not a valid JSON Schema at {where}: {exc.message}"]
    if not _is_object(schema) or "object" not in _types(schema):
        return problems + ["schema must be an object type with properties"]
    return problems + _check_ui_keys(ui, "(form)") + _check_object(schema, ui, "")


def _check_object(schema: Mapping, ui: Mapping, where: str) -> list[str]:
    properties = _dict(schema.get("properties"))
    at = where or "(form)"
    problems = _unknown_ui_children(ui, set(properties), at)
    order = ui.get("ui:order", [])
    if not isinstance(order, list):
        problems.append(f"{at}: ui:order must be a list")
        order = []
    problems += [f"{at}: ui:order names unknown property {k!r}" for k in order if k != "*" and k not in properties]
    problems += [f"{at}: ui:order repeats {k!r}" for k in {k for k in order if order.count(k) > 1}]
    problems += [f"{at}: required names unknown property {k!r}" for k in schema.get("required", [])
                 if k not in properties]
    problems += _check_conditionals(schema, properties, at)
    for key, sub in properties.items():
        path = f"{where}.{key}" if where else key
        problems += _check_property(key, _dict(sub), _child_ui(ui, key), properties, path)
    return problems


def _unknown_ui_children(ui: Mapping, allowed: set[str], at: str) -> list[str]:
    return [f"{at}: ui refers to unknown property {k!r}" for k in ui if not k.startswith("ui:") and k not in allowed]


def _check_ui_keys(ui: Mapping, at: str) -> list[str]:
    problems = [f"{at}: unknown ui key {k!r}" for k in ui if k.startswith("ui:") and k not in UI_KEYS]
    for key in ("ui:messages", "ui:messages_en"):
        messages = ui.get(key, {})
        if not isinstance(messages, Mapping) or not all(isinstance(v, str) for v in messages.values()):
            problems.append(f"{at}: {key} must map keywords to strings")
    if ui.get("ui:transform") is not None and ui.get("ui:transform") not in TRANSFORMS:
        problems.append(f"{at}: unknown ui:transform {ui['ui:transform']!r}")
    return problems


def _check_conditionals(schema: Mapping, properties: Mapping, at: str) -> list[str]:
    """Subschemas in if/then/else/allOf… may only constrain properties the form declares."""
    problems = []
    for sub in _conditional_subschemas(schema):
        names = list(_dict(sub.get("properties"))) + list(sub.get("required", []))
        problems += [f"{at}: condition refers to undeclared property {n!r}" for n in names if n not in properties]
    return problems


def _conditional_subschemas(schema: Mapping) -> Iterator[Mapping]:
    for keyword in ("if", "then", "else", "not"):
        if isinstance(schema.get(keyword), Mapping):
            yield schema[keyword]
            yield from _conditional_subschemas(schema[keyword])
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, []):
            if isinstance(sub, Mapping):
                yield sub
                yield from _conditional_subschemas(sub)


def _check_property(key: str, schema: Mapping, ui: Mapping, siblings: Mapping, path: str) -> list[str]:
    problems = []
    if not _PROPERTY_RE.fullmatch(key) or "__" in key:
        problems.append(f"{path}: property names must be letters, digits and single underscores (no '-' or '__')")
    if not schema.get("title"):
        problems.append(f"{path}: missing title")
    if not ui.get("ui:title_en"):
        problems.append(f"{path}: missing ui:title_en")
    problems += _check_ui_keys(ui, path)
    problems += _check_widget(schema, ui, path)
    problems += _check_keywords(schema, ui, siblings, path)
    if _is_object(schema):
        problems += _check_object(schema, ui, path)
    elif _is_repeat(schema):
        if "items" in ui:
            problems += _unknown_ui_children(ui, {"items"}, path)
            problems += _check_ui_keys(_items_ui(ui), f"{path}[]")
        problems += _check_object(_items(schema), _items_ui(ui), f"{path}[]")
    elif not _is_attachment(schema):
        problems += _unknown_ui_children(ui, {"items"} if "array" in _types(schema) else set(), path)
    return problems


def _check_widget(schema: Mapping, ui: Mapping, path: str) -> list[str]:
    widget = ui.get("ui:widget")
    if widget is None:
        return []
    if widget not in WIDGETS:
        return [f"{path}: unknown ui:widget {widget!r}"]
    kind = _kind(schema)
    choices = _items(schema) if kind == "multi" else schema
    if widget in {"radio", "select"} and "enum" not in schema and not ui.get("ui:choices"):
        return [f"{path}: ui:widget {widget!r} needs an enum"]
    if widget == "checkboxes" and not (kind == "multi" and "enum" in choices):
        return [f"{path}: ui:widget 'checkboxes' needs an array of enum values"]
    if (widget == "file") != (kind == "attachment"):
        return [f"{path}: ui:widget 'file' goes with x-attachment (and only with it)"]
    if (widget in JSON_WIDGETS) != _is_json_leaf(schema):
        return [f"{path}: ui:widget {widget!r} goes with an object type without properties (and only with it)"]
    return []


def _check_keywords(schema: Mapping, ui: Mapping, siblings: Mapping, path: str) -> list[str]:
    problems = []
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt not in FORMAT_CHECKER.checkers:
        problems.append(f"{path}: format {fmt!r} is not enforced")
    after = schema.get("x-after")
    if after is not None and (not isinstance(after, str) or after not in siblings or after == path.rsplit(".", 1)[-1]):
        problems.append(f"{path}: x-after must name a sibling property")
    if _is_attachment(schema):
        problems += _check_attachment_spec(schema, path)
    if "x-derived" in schema:
        problems += _check_derived(schema["x-derived"], siblings, path)
    enum = (_items(schema) if _kind(schema) == "multi" else schema).get("enum")
    for key in ("ui:enumNames", "ui:enumNames_en"):
        names = ui.get(key)
        if names is not None and (not isinstance(enum, list) or not isinstance(names, list) or len(names) != len(enum)):
            problems.append(f"{path}: {key} must list one label per enum value")
    if "default" in schema and not _FormValidator(schema, format_checker=FORMAT_CHECKER).is_valid(schema["default"]):
        problems.append(f"{path}: default does not satisfy the schema")
    return problems


def _check_derived(spec: Any, siblings: Mapping, path: str) -> list[str]:
    """``x-derived``: ``{"from": <sibling property>, "by": <derivation name>}``."""
    if not isinstance(spec, Mapping) or set(spec) != {"from", "by"}:
        return [f"{path}: x-derived must be an object with exactly 'from' and 'by'"]
    problems = []
    source = spec["from"]
    if not isinstance(source, str) or source not in siblings or source == path.rsplit(".", 1)[-1]:
        problems.append(f"{path}: x-derived.from must name a sibling property")
    if not isinstance(spec["by"], str) or not spec["by"]:
        problems.append(f"{path}: x-derived.by must name a derivation")
    return problems


def _check_attachment_spec(schema: Mapping, path: str) -> list[str]:
    spec = schema.get("x-attachment")
    problems = []
    if "object" not in _types(schema):
        problems.append(f"{path}: x-attachment needs type 'object'")
    if not isinstance(spec, Mapping):
        return problems + [f"{path}: x-attachment must be an object"]
    accept = spec.get("accept")
    if not isinstance(accept, list) or not accept or not all(isinstance(t, str) and "/" in t for t in accept):
        problems.append(f"{path}: x-attachment.accept must list media types")
    max_bytes = spec.get("maxBytes")
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
        problems.append(f"{path}: x-attachment.maxBytes must be a positive integer")
    return problems
