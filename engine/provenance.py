"""Where each value of an application came from, for the manual-entry KPI.

A value is ``identity`` (from the signed-in account), ``mydata:<resource id>``,
``citizen`` (typed by the applicant or their agent) or ``staff`` (keyed by a clerk).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def leaf_values(data: Any) -> dict[str, Any]:
    """Field name → value for every filled value (attachments by document id)."""
    values = {}
    for path in leaf_paths(data):
        node: Any = data
        for part in path.split("-"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        values[path] = node.get("document_id") if isinstance(node, Mapping) else node
    return values


def leaf_paths(data: Any, prefix: str = "") -> list[str]:
    """Form field names (``vehicles-0-plate``) of every filled value in nested data."""
    if isinstance(data, Mapping):
        if "document_id" in data and "filename" in data:  # an attachment is one value
            return [prefix] if prefix else []
        if "type" in data and "coordinates" in data:  # so is a drawn GeoJSON geometry
            return [prefix] if prefix else []
        return [p for k, v in data.items() for p in leaf_paths(v, f"{prefix}-{k}" if prefix else str(k))]
    if isinstance(data, list):
        if all(not isinstance(v, (Mapping, list)) for v in data):
            return [prefix] if data and prefix else []
        return [p for i, v in enumerate(data) for p in leaf_paths(v, f"{prefix}-{i}")]
    return [prefix] if prefix and data not in (None, "") else []


def sources_of(prefill: Mapping, kind: str) -> dict[str, str]:
    return {path: kind for path in leaf_paths(prefill)}


def of(data: Mapping, sources: Mapping[str, str], prefilled: Mapping[str, Any],
       typed_by: str) -> dict[str, str]:
    """Every filled field with its origin.

    A prefilled field keeps its source only while it still holds the prefilled
    value; one the applicant changed, or nobody prefilled, was typed by ``typed_by``.
    """
    origin = {}
    for path, value in leaf_values(data).items():
        source = sources.get(path)
        if source is None or path not in prefilled or prefilled[path] != value:
            origin[path] = typed_by
        elif source.startswith("API."):
            origin[path] = f"mydata:{source}"
        else:
            origin[path] = source
    return origin
