"""The clerk's signature request and the phone's signing page."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from engine.access import Actor
from engine.db import reading, transaction, utcnow
from engine.errors import InvalidInput
from engine.masking import mask_name
from engine.models import Case, User, new_id
from handlers.permit_pdf import qr_svg

from .. import labels, localtime, services
from ..auth import current_actor
from . import images, signing
from .models import PENDING, SIGNED, SignatureRequest

bp = Blueprint("signatures", __name__)

ROLE = "counter_clerk"
DEFAULT_TTL_MINUTES = 5
REMEMBERED_LINKS = 3
PHONE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
CLERK_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
STATES = {
    "pending": _l("等待民眾簽名"),
    "signed": _l("民眾已簽名"),
    "expired": _l("簽名連結已逾時"),
    "cancelled": _l("已重新產生，此連結作廢"),
}
GONE_REASONS = {
    "unknown": _l("此連結不存在或已失效。請向櫃檯人員索取新的簽名 QR Code。"),
    "expired": _l("此簽名連結已超過使用時限。請向櫃檯人員索取新的簽名 QR Code。"),
    "signed": _l("此連結已完成簽名；每個簽名連結只能使用一次。"),
    "cancelled": _l("櫃檯人員已重新產生簽名連結，此連結已作廢。請掃描櫃檯畫面上的新 QR Code。"),
}


# ---------------------------------------------------------------- the clerk

def _counter_clerk() -> Actor:
    """The signed-in counter clerk; anyone else is told the page does not exist."""
    actor = current_actor()
    if not (actor.is_staff and actor.has_role(ROLE)):
        abort(404)
    return actor


def _ttl() -> timedelta:
    return timedelta(minutes=float(current_app.config.get("SIGNATURE_TTL_MINUTES", DEFAULT_TTL_MINUTES)))


def _remember(request_id: str, token: str) -> None:
    """Keep the link's token in the clerk's session only: the database holds its hash."""
    links = dict(session.get("signature_links") or {})
    links[request_id] = token
    session["signature_links"] = dict(list(links.items())[-REMEMBERED_LINKS:])


def _remembered(request_id: str) -> str | None:
    return (session.get("signature_links") or {}).get(request_id)


def _visible_request(actor: Actor, request_id: str) -> tuple[SignatureRequest, Case]:
    svc = services.get()
    with reading(svc.sessions) as s:
        found = s.get(SignatureRequest, request_id[:32])
        if found is None:
            abort(404)
        return found, svc.engine.visible_case(s, actor, found.case_id)


@bp.post("/counter/signatures")
@login_required
def create():
    """「請民眾簽名」: a new one-time link for the case, ending any pending one."""
    actor = _counter_clerk()
    svc = services.get()
    now = utcnow()
    with reading(svc.sessions) as s:
        record = svc.engine.visible_case(s, actor, request.form.get("case_id", "")[:32])
        if record.channel != "counter":
            abort(404)
        doc = signing.application_document(s, svc.engine, record, new_id(), now)
    opening = signing.prepare(doc)
    with transaction(svc.sessions) as s:
        signing.open_request(s, opening, record.id, actor.user_id, now, _ttl(), actor.ip)
    _remember(opening.request_id, opening.token)
    return redirect(url_for("signatures.show", request_id=opening.request_id), code=303)


def sign_url(token: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("signatures.sign_page", token=token)


@bp.get("/counter/signatures/<request_id>")
@login_required
def show(request_id: str):
    """The QR code for the citizen's phone, the countdown and the live status."""
    found, record = _visible_request(_counter_clerk(), request_id)
    now = utcnow()
    token = _remembered(found.id)
    state = found.state(now)
    link = sign_url(token) if token and state == PENDING else None
    with reading(services.get().sessions) as s:
        applicant = s.get(User, record.applicant_id)
    page = render_template("signatures/request.html", req=found, case=record, state=state, link=link,
                           qr=qr_svg(link) if link else None, status=_status(found, now),
                           applicant=mask_name(applicant.display_name))
    return page, 200, CLERK_HEADERS


@bp.get("/counter/signatures/<request_id>/status")
@login_required
def status(request_id: str):
    found, _record = _visible_request(_counter_clerk(), request_id)
    return jsonify(_status(found, utcnow())), 200, CLERK_HEADERS


def _status(found: SignatureRequest, now: datetime) -> dict:
    state = found.state(now)
    answer = {"status": state, "label": labels.label(STATES, state),
              "expires_at": found.expires_at.isoformat(),
              "seconds_left": max(0, int((found.expires_at - now).total_seconds())) if state == PENDING else 0,
              "signed_at": found.signed_at.isoformat() if found.signed_at else None,
              "signed_at_local": _local(found.signed_at), "signature": None, "document_url": None}
    if state == SIGNED:
        with reading(services.get().sessions) as s:
            png = signing.signature_image(s, found.id)
        answer["signature"] = "data:image/png;base64," + base64.b64encode(png or b"").decode("ascii")
        if found.signed_document_id:
            answer["document_url"] = url_for("portal.document", doc_id=found.signed_document_id)
    return answer


def _local(value: datetime | None) -> str | None:
    return localtime(value, "%Y-%m-%d %H:%M:%S") if value else None


@dataclass(frozen=True)
class CasePanel:
    """What the case page shows a counter clerk: the latest request of a counter case."""

    case_id: str
    latest: SignatureRequest | None
    state: str | None


def counter_signature(record: Case) -> CasePanel | None:
    """The signature panel for the case page, or None when the reader is not a counter clerk on a counter case."""
    if not (current_user.is_authenticated and current_user.is_staff and ROLE in current_user.roles):
        return None
    if record.channel != "counter":
        return None
    with reading(services.get().sessions) as s:
        latest = signing.latest_for_case(s, record.id)
    return CasePanel(record.id, latest, latest.state(utcnow()) if latest else None)


@bp.app_context_processor
def _case_panel() -> dict:
    return {"counter_signature": counter_signature, "signature_states": STATES}


# ---------------------------------------------------------------- the phone

def _gone(reason: str):
    page = render_template("signatures/gone.html", reason=labels.label(GONE_REASONS, reason))
    return page, 410, PHONE_HEADERS


def _phone_page(found: SignatureRequest, now: datetime, errors: dict | None = None, status_code: int = 200):
    with reading(services.get().sessions) as s:
        record = s.get(Case, found.case_id)
        applicant = s.get(User, record.applicant_id)
        summary = signing.phone_summary(found, applicant)
    page = render_template("signatures/sign.html", req=found, case=record, applicant=mask_name(applicant.display_name),
                           entries=summary, errors=errors or {},
                           seconds_left=max(0, int((found.expires_at - now).total_seconds())))
    return page, status_code, PHONE_HEADERS


def _lookup(token: str) -> SignatureRequest | None:
    with reading(services.get().sessions) as s:
        return signing.find_by_token(s, token[:64])


def _note(action: str, found: SignatureRequest, result: str = "ok") -> None:
    with transaction(services.get().sessions) as s:
        signing.note_attempt(s, action, found, request.remote_addr, result)


def _usable(token: str, action: str, now) -> tuple[SignatureRequest | None, str | None]:
    """The request behind ``token`` and why it can no longer be used, if so; a refusal is audited."""
    found = _lookup(token)
    reason = signing.gone_reason(found, now)
    if reason and found is not None:
        _note(action, found, result=reason)
    return found, reason


@bp.get("/sign/<token>")
def sign_page(token: str):
    """What the citizen is signing, and the pad to sign it on."""
    now = utcnow()
    found, reason = _usable(token, "signature.view", now)
    if reason:
        return _gone(reason)
    _note("signature.view", found)
    return _phone_page(found, now)


@bp.post("/sign/<token>")
def sign(token: str):
    """Check the drawn signature and sign, once; the signed 申請書 becomes a case document."""
    now = utcnow()
    found, reason = _usable(token, "signature.sign", now)
    if reason:
        return _gone_answer(reason)
    try:
        png = images.signature_from(_submitted_signature())
    except InvalidInput as exc:
        _note("signature.sign", found, result="invalid")
        return _invalid_answer(found, now, labels.messages(exc.errors))
    signed_at = utcnow()
    pdf = signing.signed_copy(found, png, signed_at)
    with transaction(services.get().sessions) as s:
        record = s.get(Case, found.case_id)
        document_id = signing.record_signature(s, found, record.applicant_id, png, pdf, signed_at,
                                               request.remote_addr)
    if document_id is None:
        return _gone_answer(signing.gone_reason(_lookup(token), utcnow()) or "signed")
    if request.is_json:
        return jsonify({"status": SIGNED, "signed_at": signed_at.isoformat()}), 200, PHONE_HEADERS
    page = render_template("signatures/signed.html", req=found, signed_at=signed_at)
    return page, 200, PHONE_HEADERS


def _submitted_signature() -> str | None:
    if request.is_json:
        value = (request.get_json(silent=True) or {}).get(images.FIELD)
        return value if isinstance(value, str) else None
    return request.form.get(images.FIELD)


def _gone_answer(reason: str):
    if request.is_json:
        return jsonify({"status": "gone", "reason": reason,
                        "message": labels.label(GONE_REASONS, reason)}), 410, PHONE_HEADERS
    return _gone(reason)


def _invalid_answer(found: SignatureRequest, now: datetime, errors: dict):
    if request.is_json:
        return jsonify({"status": "invalid", "errors": errors}), 422, PHONE_HEADERS
    return _phone_page(found, now, errors, 422)
