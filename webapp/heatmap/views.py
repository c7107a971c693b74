"""The heatmap page and its JSON aggregation."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("heatmap", __name__, url_prefix="/dashboard")
