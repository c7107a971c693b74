"""Public permit verification, for police on the street: no sign-in, nothing personal."""
from __future__ import annotations

from flask import Blueprint, abort, render_template

from engine.db import reading, utcnow
from handlers import permits

from .. import services

bp = Blueprint("verify", __name__)


@bp.get("/verify/<token>")
def permit(token: str):
    with reading(services.get().sessions) as s:
        result = permits.verify(s, token[:64], utcnow())
    if result is None:
        abort(404)
    response = render_template("verify/permit.html", v=result)
    return response, 200, {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
