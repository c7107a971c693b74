"""The JSON API under /api/v1: the same engine commands and rules as the pages."""
from __future__ import annotations

from apiflask import APIBlueprint

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="Onestop")

from . import views  # noqa: E402,F401 - routes register on import
