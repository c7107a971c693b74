"""Open data endpoints under /api/v1/open-data."""
from __future__ import annotations

from apiflask import APIBlueprint

bp = APIBlueprint("opendata", __name__, url_prefix="/api/v1/open-data", tag="Open data")
