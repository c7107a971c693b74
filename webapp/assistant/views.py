"""The assistant's pages and JSON endpoint."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import audit
from engine.db import reading, transaction, utcnow

from .. import select_locale, services
from ..auth import current_actor, staff_required
from . import answers, unanswered
from .models import CatalogItem

bp = Blueprint("assistant", __name__, url_prefix="/assistant")


def ask(question: str) -> answers.Answer:
    """Answers one question (already checked), logging it scrubbed when there is no good answer."""
    svc = services.get()
    locale = select_locale()
    with reading(svc.sessions) as s:
        result = answers.search(s, question)
        reply = answers.compose(s, question, result, locale)
    if reply.hotline:
        with transaction(svc.sessions) as s:
            unanswered.record(s, question, locale, utcnow())
    return reply


@bp.route("", methods=["GET", "POST"])
def index():
    """The assistant without JavaScript: the question comes in the query string or the posted form.

    The chat box posts what the citizen typed, so it stays out of URLs and access logs; the
    suggestion buttons and links use the query string, as their text is the assistant's own.
    """
    question = request.form.get("q") if request.method == "POST" else request.args.get("q")
    page = {"exchanges": [], "errors": {}, "question": "", "examples": answers.examples()}
    if question is None:
        return render_template("assistant/index.html", **page)
    errors = answers.check(question)
    if errors:
        return render_template("assistant/index.html", **{**page, "errors": errors, "question": question}), 400
    return render_template("assistant/index.html", **{**page, "exchanges": [ask(question.strip())]})


@bp.post("/ask")
def ask_json():
    """``{"q": "…"}`` → the answer, its services and follow-up questions; works signed out."""
    payload = request.get_json(silent=True)
    question = payload.get("q") if isinstance(payload, dict) else None
    errors = answers.check(question)
    if errors:
        return jsonify({"error": _("問題格式不正確。"), "errors": errors}), 400
    return jsonify(ask(question.strip()).as_json())


@bp.get("/items/<key>")
def item(key: str):
    with reading(services.get().sessions) as s:
        row = s.get(CatalogItem, key)
        if row is None:
            abort(404)
    return render_template("assistant/item.html", item=row, card=answers.card(row, select_locale()))


@bp.get("/unanswered")
@staff_required("analyst")
def unanswered_list():
    """What citizens asked that the catalog could not answer, most asked first."""
    with reading(services.get().sessions) as s:
        rows = unanswered.open_questions(s)
    return render_template("assistant/unanswered.html", rows=rows)


@bp.post("/unanswered/<int:question_id>/handled")
@staff_required("analyst")
def handled(question_id: int):
    actor = current_actor()
    with transaction(services.get().sessions) as s:
        row = unanswered.mark_handled(s, question_id, actor.user_id, utcnow())
        if row is None:
            abort(404)
        audit.append(s, "assistant.handled", actor_id=actor.user_id, ip=actor.ip,
                     detail={"question": row.id})
    flash(_("已標示為已處理。"), "success")
    return redirect(url_for("assistant.unanswered_list"))

