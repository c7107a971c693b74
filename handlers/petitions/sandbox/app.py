"""A 1999-compatible petition server: the same Open311-style JSON endpoints.

It registers petitions, answers status queries, and links 1999 members by a
one-time code that it "sends" into ``Sandbox1999.outbox`` instead of a real
mailbox or phone. State lives in this process: one sandbox serves one demo or
one test run. The clock is injectable so tests can expire codes without waiting.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.forms import is_tw_national_id

TAIPEI = timezone(timedelta(hours=8))
STATUSES = ("open", "in_progress", "closed")
SERVICE_CODES = frozenset({
    "traffic", "roads", "lighting", "environment", "noise", "water", "parks", "animals",
    "buildings", "welfare", "care", "education", "health", "police", "other",
})
CHANNELS = frozenset({"onestop", "phone", "web", "app", "email", "counter"})
LINK_CHANNELS = ("email", "sms")
CONFIDENTIAL_NAME = "（保密）"

DESCRIPTION_MAX = 4000
ATTACHMENTS_MAX = 5
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
#: Five attachments of 5 MB in base64 plus the text; anything larger is refused before parsing.
BODY_MAX_BYTES = ATTACHMENTS_MAX * ATTACHMENT_MAX_BYTES * 4 // 3 + 1024 * 1024
EXPECTED_AFTER = timedelta(days=7)
CODE_TTL = timedelta(minutes=10)
CODE_TRIES = 5

AGENCY = re.compile(r"[A-Z0-9][A-Z0-9-]{0,39}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[0-9][0-9 -]{6,19}")
CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    """Times go out in Taiwan's offset, as the 1999 system shows them."""
    return moment.astimezone(TAIPEI).isoformat(timespec="seconds")


def _aware(value: object) -> datetime | None:
    """An ISO-8601 time with its offset, or None when absent; anything else is a bad request."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError(400, "must be an ISO-8601 time with a UTC offset", "requested_datetime")
    return moment


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    if len(digits) < 8:
        return "***" + digits[-2:]
    return f"{digits[:4]}***{digits[-3:]}"


class ApiError(Exception):
    """An answer other than success; the app turns it into ``{"errors": [...]}``."""

    def __init__(self, status: int, message: str = "", field: str | None = None,
                 errors: list[dict] | None = None, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors if errors is not None else [{"field": field, "message": message}]
        self.extra = extra


@dataclass
class Petitioner:
    name: str
    national_id: str | None
    email: str | None
    phone: str | None
    confidential: bool = False


@dataclass
class StoredPetition:
    service_request_id: str
    service_code: str
    agency_responsible: str
    channel: str
    external_id: str | None
    description: str
    address_string: str | None
    lat: float | None
    long: float | None
    petitioner: Petitioner
    attachments: list[dict]
    requested: datetime
    updated: datetime
    expected: datetime
    status: str = "open"
    status_notes: str | None = None
    filed_by: str | None = None  # the API key that filed it; None for cases that came in another way

    def to_json(self) -> dict:
        """The Open311 shape; a confidential petitioner is not echoed, and a national ID never is."""
        if self.petitioner.confidential:
            who = {"name": CONFIDENTIAL_NAME, "confidential": True}
        else:
            who = {"name": self.petitioner.name, "email": self.petitioner.email,
                   "phone": self.petitioner.phone, "confidential": False}
        return {
            "service_request_id": self.service_request_id, "status": self.status,
            "status_notes": self.status_notes, "agency_responsible": self.agency_responsible,
            "service_code": self.service_code, "description": self.description,
            "requested_datetime": _iso(self.requested), "updated_datetime": _iso(self.updated),
            "expected_datetime": _iso(self.expected), "external_id": self.external_id,
            "channel": self.channel, "address_string": self.address_string,
            "lat": self.lat, "long": self.long, "petitioner": who,
        }

    def receipt(self) -> dict:
        """What registering answers: the fields Open311 returns from POST requests."""
        return {"service_request_id": self.service_request_id, "status": self.status,
                "expected_datetime": _iso(self.expected), "agency_responsible": self.agency_responsible,
                "requested_datetime": _iso(self.requested)}


@dataclass
class Member:
    member_id: str
    name: str
    email: str | None
    phone: str | None
    request_ids: list[str] = field(default_factory=list)

    def owns(self, petition: StoredPetition) -> bool:
        """Cases listed for the member, and petitions that gave the member's e-mail or phone."""
        if petition.service_request_id in self.request_ids:
            return True
        who = petition.petitioner
        if self.email and who.email and who.email.lower() == self.email.lower():
            return True
        return bool(self.phone and who.phone and re.sub(r"\D", "", who.phone) == re.sub(r"\D", "", self.phone))


@dataclass
class Verification:
    verification_id: str
    member_id: str
    code: str
    created: datetime
    failures: int = 0
    dead: bool = False


class Sandbox1999:
    """Everything the sandbox knows; every change happens under ``lock``."""

    def __init__(self, api_keys: set[str], clock: Callable[[], datetime] = _utcnow) -> None:
        self.api_keys = set(api_keys)
        self.clock = clock
        self.petitions: dict[str, StoredPetition] = {}
        self.members: dict[str, Member] = {}
        self.verifications: dict[str, Verification] = {}
        self.links: dict[str, str] = {}  # link token -> member id
        #: Codes "sent" to members: (member_id, channel, destination, code).
        self.outbox: list[tuple[str, str, str, str]] = []
        self.lock = threading.Lock()
        self._idempotency: dict[tuple[str, str], tuple[str, str]] = {}  # (api key, key) -> (id, fingerprint)
        self._serials: dict[int, int] = {}

    def api_key(self, authorization: str | None) -> str | None:
        """The caller's key when the Authorization header carries a known one."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        for key in self.api_keys:
            if hmac.compare_digest(token.encode(), key.encode()):
                return key
        return None

    # -- petitions -------------------------------------------------------------

    def _new_id(self, now: datetime) -> str:
        year = now.astimezone(TAIPEI).year
        self._serials[year] = self._serials.get(year, 0) + 1
        return f"1999-{year}-{self._serials[year]:06d}"

    def register(self, api_key: str, body: object) -> tuple[StoredPetition, bool]:
        """The petition and whether it is new; a repeated idempotency key gives back the first one."""
        values, errors = validate_petition(body)
        if errors:
            raise ApiError(400, errors=errors)
        key = values.pop("idempotency_key")
        fingerprint = hashlib.sha256(json.dumps(
            {k: v for k, v in body.items() if k != "idempotency_key"}, sort_keys=True).encode()).hexdigest()
        with self.lock:
            if key is not None and (api_key, key) in self._idempotency:
                known, first = self._idempotency[(api_key, key)]
                if first != fingerprint:
                    raise ApiError(409, "idempotency_key was already used for a different petition",
                                   "idempotency_key")
                return self.petitions[known], False
            now = self.clock()
            petition = StoredPetition(service_request_id=self._new_id(now), requested=now, updated=now,
                                      expected=now + EXPECTED_AFTER, filed_by=api_key, **values)
            self.petitions[petition.service_request_id] = petition
            if key is not None:
                self._idempotency[(api_key, key)] = (petition.service_request_id, fingerprint)
            return petition, True

    def find(self, request_id: str) -> StoredPetition:
        with self.lock:
            petition = self.petitions.get(request_id)
        if petition is None:
            raise ApiError(404, "no such service request")
        return petition

    def updated_after(self, api_key: str, when: datetime | None) -> list[StoredPetition]:
        """The caller's own petitions changed after ``when``, oldest change first."""
        with self.lock:
            found = [p for p in self.petitions.values()
                     if p.filed_by == api_key and (when is None or p.updated > when)]
        return sorted(found, key=lambda p: (p.updated, p.service_request_id))

    def progress(self, request_id: str, body: dict) -> StoredPetition:
        """The agency moves a case on and, usually, replies."""
        status = body.get("status")
        if status is not None and status not in STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(STATUSES)}", "status")
        notes = body.get("status_notes")
        if notes is not None and not isinstance(notes, str):
            raise ApiError(400, "status_notes must be text", "status_notes")
        with self.lock:
            petition = self.petitions.get(request_id)
            if petition is None:
                raise ApiError(404, "no such service request")
            if status is not None:
                petition.status = status
            if "status_notes" in body:
                petition.status_notes = notes
            petition.updated = self.clock()
            return petition

    # -- members ---------------------------------------------------------------

    def add_member(self, body: dict) -> Member:
        """A 1999 member, with cases they already filed some other way (by phone, by default)."""
        member_id = body.get("member_id")
        if not isinstance(member_id, str) or not member_id:
            raise ApiError(400, "member_id is required", "member_id")
        member = Member(member_id, str(body.get("name") or ""), body.get("email"), body.get("phone"))
        items = body.get("requests") or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ApiError(400, "requests must be a list of objects", "requests")
        if any(item.get("status", "open") not in STATUSES for item in items):
            raise ApiError(400, f"status must be one of {', '.join(STATUSES)}", "requests")
        times = [_aware(item.get("requested_datetime")) for item in items]
        with self.lock:
            now = self.clock()
            for item, requested in zip(items, times):
                requested = requested or now
                petition = StoredPetition(
                    service_request_id=self._new_id(requested), service_code=item.get("service_code", "other"),
                    agency_responsible=item.get("agency_responsible", "RDEC"),
                    channel=item.get("channel", "phone"), external_id=None,
                    description=item.get("description", ""), address_string=item.get("address_string"),
                    lat=None, long=None, petitioner=Petitioner(member.name, None, member.email, member.phone),
                    attachments=[], requested=requested, updated=now, expected=requested + EXPECTED_AFTER,
                    status=item.get("status", "open"), status_notes=item.get("status_notes"))
                self.petitions[petition.service_request_id] = petition
                member.request_ids.append(petition.service_request_id)
            self.members[member_id] = member
        return member

    def start_verification(self, member_id: object, channel: object) -> tuple[Verification, str]:
        """Send a six-digit code to the member's address on record; earlier codes stop working."""
        if channel not in LINK_CHANNELS:
            raise ApiError(400, "channel must be email or sms", "channel")
        with self.lock:
            member = self.members.get(member_id) if isinstance(member_id, str) else None
            if member is None:
                raise ApiError(404, "no such member")
            destination = member.email if channel == "email" else member.phone
            if not destination:
                raise ApiError(400, f"the member has no {'e-mail' if channel == 'email' else 'phone'} on record",
                               "channel")
            for earlier in self.verifications.values():
                if earlier.member_id == member_id:
                    earlier.dead = True
            verification = Verification(uuid.uuid4().hex, member_id, f"{secrets.randbelow(10**6):06d}",
                                        self.clock())
            self.verifications[verification.verification_id] = verification
            self.outbox.append((member_id, channel, destination, verification.code))
        masked = mask_email(destination) if channel == "email" else mask_phone(destination)
        return verification, masked

    def confirm(self, verification_id: object, code: object) -> tuple[str, str]:
        """(member id, link token) for the right code; each wrong one uses up a try."""
        with self.lock:
            verification = self.verifications.get(verification_id) if isinstance(verification_id, str) else None
            if verification is None:
                raise ApiError(404, "no such verification")
            if verification.dead or self.clock() - verification.created >= CODE_TTL:
                verification.dead = True
                raise ApiError(410, "the verification has expired; start again")
            if not isinstance(code, str) or not hmac.compare_digest(code.encode(), verification.code.encode()):
                verification.failures += 1
                remaining = CODE_TRIES - verification.failures
                verification.dead = remaining <= 0
                raise ApiError(400, "wrong code", "code", remaining=remaining)
            verification.dead = True
            token = secrets.token_urlsafe(32)
            self.links[token] = verification.member_id
            return verification.member_id, token

    def member_cases(self, member_id: str, token: str | None) -> list[StoredPetition]:
        with self.lock:
            linked = self.links.get(token or "")
            member = self.members.get(member_id)
            if member is None or linked is None or not hmac.compare_digest(linked.encode(), member_id.encode()):
                raise ApiError(403, "the link token does not belong to this member")
            found = [p for p in self.petitions.values() if member.owns(p)]
        return sorted(found, key=lambda p: (p.requested, p.service_request_id))


def validate_petition(body: object) -> tuple[dict, list[dict]]:
    """Clean values for ``StoredPetition`` and every problem found, not just the first."""
    errors: list[dict] = []

    def bad(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    if not isinstance(body, dict):
        return {}, [{"field": None, "message": "the body must be a JSON object"}]

    def text(name: str, value: object, limit: int, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            bad(name, "is required" if value in (None, "") else "must be non-empty text")
            return None
        if len(value) > limit:
            bad(name, f"must be at most {limit} characters")
        return value

    values: dict = {}
    code = body.get("service_code")
    if code not in SERVICE_CODES:
        bad("service_code", "unknown service code")
    values["service_code"] = code
    agency = body.get("agency_responsible")
    if not isinstance(agency, str) or not AGENCY.fullmatch(agency):
        bad("agency_responsible", "must be an agency code such as TB")
    values["agency_responsible"] = agency
    channel = body.get("channel")
    if channel not in CHANNELS:
        bad("channel", "unknown channel")
    values["channel"] = channel
    values["external_id"] = text("external_id", body.get("external_id"), 64, required=False)
    values["description"] = text("description", body.get("description"), DESCRIPTION_MAX)
    values["address_string"] = text("address_string", body.get("address_string"), 255, required=False)
    values["lat"], values["long"] = _position(body, bad)
    values["attachments"] = _attachments(body.get("attachments"), bad)
    values["petitioner"] = _petitioner(body.get("petitioner"), bad, text)
    key = body.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 128):
        bad("idempotency_key", "must be text of 1 to 128 characters")
    values["idempotency_key"] = key
    return values, errors


def _position(body: dict, bad: Callable[[str, str], None]) -> tuple[float | None, float | None]:
    lat, long = body.get("lat"), body.get("long")
    if lat is None and long is None:
        return None, None
    ok = True
    for name, value, limit in (("lat", lat, 90), ("long", long, 180)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -limit <= value <= limit:
            bad(name, f"must be a number between -{limit} and {limit}, given together with "
                      f"{'long' if name == 'lat' else 'lat'}")
            ok = False
    return (float(lat), float(long)) if ok else (None, None)


def _attachments(items: object, bad: Callable[[str, str], None]) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list):
        bad("attachments", "must be a list")
        return []
    if len(items) > ATTACHMENTS_MAX:
        bad("attachments", f"at most {ATTACHMENTS_MAX} attachments")
    kept = []
    for i, item in enumerate(items[:ATTACHMENTS_MAX]):
        where = f"attachments[{i}]"
        if not isinstance(item, dict):
            bad(where, "must be an object")
            continue
        filename, content_type = item.get("filename"), item.get("content_type")
        if not isinstance(filename, str) or not 0 < len(filename) <= 255:
            bad(f"{where}.filename", "must be a file name of at most 255 characters")
        if not isinstance(content_type, str) or not CONTENT_TYPE.fullmatch(content_type):
            bad(f"{where}.content_type", "must be a media type such as image/jpeg")
        try:
            data = base64.b64decode(item.get("data_base64") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            bad(f"{where}.data_base64", "must be base64")
            continue
        if not data:
            bad(f"{where}.data_base64", "is empty")
        elif len(data) > ATTACHMENT_MAX_BYTES:
            bad(f"{where}.data_base64", "must decode to at most 5 MB")
        kept.append({"filename": filename, "content_type": content_type, "data": data})
    return kept


def _petitioner(who: object, bad: Callable[[str, str], None], text: Callable) -> Petitioner | None:
    if not isinstance(who, dict):
        bad("petitioner", "is required")
        return None
    name = text("petitioner.name", who.get("name"), 100)
    national_id = who.get("national_id")
    if national_id is not None and (not isinstance(national_id, str) or not is_tw_national_id(national_id)):
        bad("petitioner.national_id", "is not a valid national ID")
    email, phone = who.get("email"), who.get("phone")
    if email is not None and (not isinstance(email, str) or len(email) > 254 or not EMAIL.fullmatch(email)):
        bad("petitioner.email", "is not an e-mail address")
    if phone is not None and (not isinstance(phone, str) or not PHONE.fullmatch(phone)):
        bad("petitioner.phone", "is not a phone number")
    if not email and not phone:
        bad("petitioner", "an e-mail address or phone number is required so that the agency can reply")
    confidential = who.get("confidential", False)
    if not isinstance(confidential, bool):
        bad("petitioner.confidential", "must be true or false")
    return Petitioner(name or "", national_id, email, phone, confidential is True)


def create_sandbox_app(sandbox: Sandbox1999, *, test_endpoints: bool = False) -> Flask:
    app = Flask(__name__)
    app.config["SANDBOX"] = sandbox
    app.config["MAX_CONTENT_LENGTH"] = BODY_MAX_BYTES
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        response = jsonify(errors=error.errors, **error.extra)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response, error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return jsonify(errors=[{"field": None, "message": error.description}]), error.code

    @app.before_request
    def authenticate():
        if request.path.startswith("/api/"):
            key = sandbox.api_key(request.headers.get("Authorization"))
            if key is None:
                raise ApiError(401, "a valid API key is required (Authorization: Bearer ...)")
            g.api_key = key

    def body() -> dict:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            raise ApiError(400, "the body must be a JSON object")
        return payload

    @app.post("/api/v2/requests.json")
    def register():
        petition, new = sandbox.register(g.api_key, body())
        return jsonify([petition.receipt()]), 201 if new else 200

    @app.get("/api/v2/requests/<request_id>.json")
    def one(request_id: str):
        return jsonify([sandbox.find(request_id).to_json()])

    @app.get("/api/v2/requests.json")
    def updated():
        raw = request.args.get("updated_after")
        when = None
        if raw:
            try:
                when = datetime.fromisoformat(raw)
            except ValueError:
                raise ApiError(400, "must be an ISO-8601 time", "updated_after") from None
            if when.tzinfo is None:
                raise ApiError(400, "must carry a UTC offset", "updated_after")
        found = sandbox.updated_after(g.api_key, when)
        return jsonify([p.to_json() for p in found])

    @app.post("/api/v2/members/verify")
    def verify():
        payload = body()
        verification, masked = sandbox.start_verification(payload.get("member_id"), payload.get("channel"))
        return jsonify(verification_id=verification.verification_id, destination=masked,
                       expires_in=int(CODE_TTL.total_seconds())), 201

    @app.post("/api/v2/members/confirm")
    def confirm():
        payload = body()
        member_id, token = sandbox.confirm(payload.get("verification_id"), payload.get("code"))
        return jsonify(member_id=member_id, link_token=token)

    @app.get("/api/v2/members/<member_id>/requests.json")
    def member_requests(member_id: str):
        found = sandbox.member_cases(member_id, request.headers.get("X-Link-Token"))
        return jsonify([p.to_json() for p in found])

    if test_endpoints:
        @app.post("/_test/requests/<request_id>")
        def test_progress(request_id: str):
            return jsonify([sandbox.progress(request_id, body()).to_json()])

        @app.post("/_test/members")
        def test_member():
            member = sandbox.add_member(body())
            return jsonify(member_id=member.member_id, requests=member.request_ids), 201

        @app.get("/_test/outbox")
        def test_outbox():
            """The one-time codes the sandbox would have sent, newest first (a demo has no phone)."""
            with sandbox.lock:
                sent = list(reversed(sandbox.outbox))
            return jsonify([{"member_id": m, "channel": c, "destination": d, "code": code}
                            for m, c, d, code in sent])

    return app
