"""Onestop's side of the 1999 petition protocol (Open311 GeoReport v2 style, JSON).

A citizen's opinion about a case becomes a petition with the responsible
agency; its status and the agency's reply are read back by id or by polling
``updated_since``. Members link their 1999 account with a one-time code.

Failures are split by what the caller should do: ``PetitionUnavailable`` means
keep the opinion and send it again later with the same idempotency key;
``PetitionRejected`` means the petition itself needs fixing. The petitioner's
name, national ID, e-mail and phone never appear in an exception or a log line:
callers store exception text in case history.
"""
from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

log = logging.getLogger(__name__)

STATUSES = ("open", "in_progress", "closed")
LINK_CHANNELS = ("email", "sms")


class PetitionError(Exception):
    """Anything that went wrong talking to 1999."""


class PetitionUnavailable(PetitionError):
    """1999 could not be reached, timed out or failed (5xx): keep the opinion and retry later."""


class PetitionRejected(PetitionError):
    """1999 refused the petition as invalid (400); ``errors`` lists ``{field, message}``."""

    def __init__(self, errors: list[dict]) -> None:
        self.errors = errors
        fields = ", ".join(sorted({str(e.get("field")) for e in errors})) or "unknown"
        super().__init__(f"1999 rejected the request; fields: {fields}")


class LinkFailed(PetitionError):
    """Linking a 1999 member failed; ``reason`` is wrong_code, expired, unknown_member or bad_token."""

    REASONS = ("wrong_code", "expired", "unknown_member", "bad_token")

    def __init__(self, reason: str, remaining: int | None = None) -> None:
        self.reason = reason
        self.remaining = remaining  # tries left after a wrong code, when 1999 says
        super().__init__(reason)


class PetitionProtocolError(PetitionError):
    """1999 answered something the protocol does not allow."""


class PetitionAuthError(PetitionProtocolError):
    """1999 refused our API key (401): a configuration problem, not a retryable one."""


@dataclass(frozen=True)
class Settings1999:
    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> Settings1999 | None:
        """Settings from PETITION_1999_* variables, or None when 1999 is not configured."""
        url = os.environ.get("PETITION_1999_URL")
        if not url:
            return None
        return cls(base_url=url, api_key=os.environ["PETITION_1999_API_KEY"])

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


@dataclass(frozen=True)
class Petitioner:
    """Who petitions; personal fields stay out of ``repr`` so they cannot leak through logs or tracebacks."""

    name: str = field(repr=False)
    email: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    national_id: str | None = field(default=None, repr=False)
    confidential: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "national_id": self.national_id, "email": self.email,
                "phone": self.phone, "confidential": self.confidential}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"filename": self.filename, "content_type": self.content_type,
                "data_base64": base64.b64encode(self.data).decode()}


@dataclass(frozen=True)
class Petition:
    """What we register; 1999 validates it (description 1..4000 characters, at most 5 attachments of 5 MB)."""

    service_code: str
    agency_responsible: str
    description: str
    petitioner: Petitioner
    external_id: str | None = None  # the Onestop case number the opinion concerns
    address_string: str | None = None
    lat: float | None = None
    long: float | None = None
    attachments: tuple[Attachment, ...] = ()
    channel: str = "onestop"

    def to_json(self) -> dict[str, Any]:
        """The request body as a JSON-ready dict (without the idempotency key)."""
        body: dict[str, Any] = {
            "service_code": self.service_code, "agency_responsible": self.agency_responsible,
            "channel": self.channel, "external_id": self.external_id, "description": self.description,
            "petitioner": self.petitioner.to_json(),
        }
        if self.address_string is not None:
            body["address_string"] = self.address_string
        if self.lat is not None or self.long is not None:
            body["lat"], body["long"] = self.lat, self.long
        if self.attachments:
            body["attachments"] = [a.to_json() for a in self.attachments]
        return body


@dataclass(frozen=True)
class PetitionStatus:
    """A petition as 1999 reports it; ``status_notes`` is the agency's reply."""

    service_request_id: str
    status: str
    status_notes: str | None
    agency_responsible: str
    expected_datetime: datetime | None
    updated_datetime: datetime
    external_id: str | None
    service_code: str | None = None
    description: str | None = None
    requested_datetime: datetime | None = None
    channel: str | None = None


def _time(item: dict, name: str, required: bool) -> datetime | None:
    value = item.get(name)
    if value is None and not required:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise PetitionProtocolError(f"{name} is not an ISO-8601 time with an offset")
    return moment


def _optional_text(item: dict, name: str) -> str | None:
    value = item.get(name)
    if value is not None and not isinstance(value, str):
        raise PetitionProtocolError(f"{name} is not text")
    return value


def parse_status(item: object, external_id: str | None = None) -> PetitionStatus:
    """One Open311 service request; the POST receipt lacks some fields, so those fall back."""
    if not isinstance(item, dict):
        raise PetitionProtocolError("a service request is not a JSON object")
    request_id, status, agency = item.get("service_request_id"), item.get("status"), item.get("agency_responsible")
    if not isinstance(request_id, str) or not request_id:
        raise PetitionProtocolError("service_request_id is missing")
    if status not in STATUSES:
        raise PetitionProtocolError("status is not open, in_progress or closed")
    if not isinstance(agency, str):
        raise PetitionProtocolError("agency_responsible is missing")
    requested = _time(item, "requested_datetime", required=False)
    updated = _time(item, "updated_datetime", required=requested is None) or requested
    return PetitionStatus(
        service_request_id=request_id, status=status, status_notes=_optional_text(item, "status_notes"),
        agency_responsible=agency, expected_datetime=_time(item, "expected_datetime", required=False),
        updated_datetime=updated,
        external_id=_optional_text(item, "external_id") if "external_id" in item else external_id,
        service_code=_optional_text(item, "service_code"), description=_optional_text(item, "description"),
        requested_datetime=requested, channel=_optional_text(item, "channel"),
    )


def _statuses(payload: object) -> list[PetitionStatus]:
    if not isinstance(payload, list):
        raise PetitionProtocolError("expected a list of service requests")
    return [parse_status(item) for item in payload]


class Client1999:
    """One HTTP session to 1999. Not shared between threads: make one per worker."""

    def __init__(self, settings: Settings1999, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {settings.api_key}",
                                     "Accept": "application/json"})

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client1999:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Status and JSON body; unreachable, 5xx, 401 and non-JSON answers raise here."""
        try:
            response = self.session.request(method, self.settings.url(path), timeout=self.settings.timeout,
                                            **kwargs)
        except requests.RequestException as exc:
            log.warning("1999 %s %s unreachable: %s", method, path, exc.__class__.__name__)
            raise PetitionUnavailable(f"1999 unreachable ({exc.__class__.__name__})") from exc
        code = response.status_code
        if code >= 500:
            log.warning("1999 %s %s answered %s", method, path, code)
            raise PetitionUnavailable(f"1999 answered {code}")
        if code == 401:
            raise PetitionAuthError("1999 refused the API key (401)")
        try:
            payload = response.json()
        except ValueError:
            raise PetitionProtocolError(f"1999 answered {code} without JSON") from None
        return code, payload

    @staticmethod
    def _unexpected(code: int, what: str) -> PetitionProtocolError:
        return PetitionProtocolError(f"1999 answered {code} to {what}")

    @staticmethod
    def _errors(payload: Any) -> list[dict]:
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if not isinstance(errors, list):
            return [{"field": None, "message": "no details given"}]
        return [e if isinstance(e, dict) else {"field": None, "message": str(e)} for e in errors]

    # -- petitions -------------------------------------------------------------

    def submit(self, petition: Petition, idempotency_key: str) -> PetitionStatus:
        """Register the petition. Sending again with the same key returns the same petition, never a second one."""
        body = {**petition.to_json(), "idempotency_key": idempotency_key}
        code, payload = self._call("POST", "api/v2/requests.json", json=body)
        if code in (400, 413, 422):
            errors = self._errors(payload)
            if code == 413:
                errors = [{"field": "attachments", "message": "the petition is too large"}]
            log.info("1999 rejected a petition for %s; fields: %s", petition.external_id,
                     ", ".join(sorted({str(e.get("field")) for e in errors})))
            raise PetitionRejected(errors)
        if code not in (200, 201):
            raise self._unexpected(code, "a petition")
        if not isinstance(payload, list) or len(payload) != 1:
            raise PetitionProtocolError("the receipt is not a list of one service request")
        status = parse_status(payload[0], external_id=petition.external_id)
        log.info("1999 %s petition %s for %s", "registered" if code == 201 else "already had",
                 status.service_request_id, petition.external_id)
        return status

    def status(self, request_id: str) -> PetitionStatus:
        code, payload = self._call("GET", f"api/v2/requests/{quote(request_id, safe='')}.json")
        if code == 404:
            raise PetitionProtocolError(f"1999 does not know {request_id}")
        if code != 200:
            raise self._unexpected(code, "a status query")
        found = _statuses(payload)
        if len(found) != 1:
            raise PetitionProtocolError("a status query did not answer exactly one service request")
        return found[0]

    def updated_since(self, when: datetime) -> list[PetitionStatus]:
        """Our petitions that changed after ``when`` (oldest change first), for polling replies.

        Times are to the second, so a petition may come back twice; handle replies idempotently.
        """
        if when.tzinfo is None:
            raise ValueError("updated_since needs an aware datetime")
        code, payload = self._call("GET", "api/v2/requests.json", params={"updated_after": when.isoformat()})
        if code == 400:
            raise PetitionRejected(self._errors(payload))
        if code != 200:
            raise self._unexpected(code, "a poll")
        return _statuses(payload)

    # -- member linking --------------------------------------------------------

    def start_member_link(self, member_id: str, channel: str) -> tuple[str, str]:
        """1999 sends a code to the member's e-mail or phone; returns (verification_id, masked destination)."""
        if channel not in LINK_CHANNELS:
            raise ValueError("channel must be 'email' or 'sms'")
        code, payload = self._call("POST", "api/v2/members/verify",
                                   json={"member_id": member_id, "channel": channel})
        if code == 404:
            raise LinkFailed("unknown_member")
        if code == 400:
            raise PetitionRejected(self._errors(payload))
        if code not in (200, 201):
            raise self._unexpected(code, "a member verification")
        verification_id = payload.get("verification_id") if isinstance(payload, dict) else None
        destination = payload.get("destination") if isinstance(payload, dict) else None
        if not isinstance(verification_id, str) or not isinstance(destination, str):
            raise PetitionProtocolError("verification_id or destination is missing")
        return verification_id, destination

    def confirm_member_link(self, verification_id: str, code: str) -> str:
        """The link token for the right code; LinkFailed("wrong_code") or ("expired") otherwise."""
        status, payload = self._call("POST", "api/v2/members/confirm",
                                     json={"verification_id": verification_id, "code": code})
        if status == 400:
            remaining = payload.get("remaining") if isinstance(payload, dict) else None
            raise LinkFailed("wrong_code", remaining if isinstance(remaining, int) else None)
        if status in (404, 410):
            raise LinkFailed("expired")
        if status != 200:
            raise self._unexpected(status, "a member confirmation")
        token = payload.get("link_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise PetitionProtocolError("link_token is missing")
        return token

    def member_requests(self, member_id: str, link_token: str) -> list[PetitionStatus]:
        """The member's 1999 cases, filed through any channel."""
        code, payload = self._call("GET", f"api/v2/members/{quote(member_id, safe='')}/requests.json",
                                   headers={"X-Link-Token": link_token})
        if code == 403:
            raise LinkFailed("bad_token")
        if code == 404:
            raise LinkFailed("unknown_member")
        if code != 200:
            raise self._unexpected(code, "a member's cases")
        return _statuses(payload)
