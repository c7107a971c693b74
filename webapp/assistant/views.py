"""The assistant's pages and JSON endpoint."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("assistant", __name__, url_prefix="/assistant")
