"""The clerk's signature request and the phone's signing page."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("signatures", __name__)
