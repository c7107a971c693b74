"""The service-provider side of the MyData protocol.

Web requests only build redirects and record what MyData tells us; downloads
run in a worker (``jobs.py``), never inside a web request or a case transaction.
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode

import requests

from . import crypto, package
from .config import MyDataConfig

#: What each return code means for the citizen; the web layer words the message.
RETURN_CODES = {
    200: "ok", 205: "refused", 400: "bad_request", 401: "bad_client", 403: "no_scope",
    404: "return_url_mismatch", 408: "timeout", 409: "wrong_person", 410: "notify_failed",
    423: "service_disabled", 504: "provider_failed",
}


class MyDataProtocolError(Exception):
    """MyData answered something the protocol does not allow."""


def new_tx_id() -> str:
    return str(uuid.uuid4())


def authorization_url(cfg: MyDataConfig, tx_id: str, resources: tuple[str, ...] | list[str],
                      national_id: str, correlation: str) -> str:
    """Where to send the citizen: resources base64-encoded, pid AES-encrypted.

    Our own correlation id rides in the return URL's query, which MyData keeps.
    """
    encoded = base64.b64encode(":".join(resources).encode()).decode()
    return_url = f"{cfg.return_url}?{urlencode({'corr': correlation})}"
    pid = crypto.encrypt_b64(national_id, cfg.client_secret, cfg.cbc_iv)
    query = urlencode({"returnUrl": return_url, "pid": pid})
    return cfg.service_url(f"service/{cfg.client_id}/{quote(encoded, safe='')}/{tx_id}") + "?" + query


@dataclass(frozen=True)
class Notify:
    tx_id: str
    permission_ticket: str
    secret_key: str | None
    unable_to_deliver: tuple[str, ...]


def parse_notify(body: object) -> Notify:
    """The SP-API body, or MyDataProtocolError when it is not one MyData sends."""
    if not isinstance(body, dict):
        raise MyDataProtocolError("notify body is not a JSON object")
    tx_id, ticket = body.get("tx_id"), body.get("permission_ticket")
    secret, unable = body.get("secret_key"), body.get("unable_to_deliver") or []
    if not isinstance(tx_id, str) or not isinstance(ticket, str) or not tx_id or not ticket:
        raise MyDataProtocolError("notify body lacks tx_id or permission_ticket")
    if secret is not None and not isinstance(secret, str):
        raise MyDataProtocolError("secret_key is not a string")
    if not isinstance(unable, list) or not all(isinstance(u, str) for u in unable):
        raise MyDataProtocolError("unable_to_deliver is not a list of resource ids")
    if secret is None and not unable:
        raise MyDataProtocolError("notify body has neither secret_key nor unable_to_deliver")
    return Notify(tx_id, ticket, secret, tuple(unable))


@dataclass(frozen=True)
class ReturnVisit:
    code: int
    tx_id: str | None
    correlation: str | None

    @property
    def meaning(self) -> str:
        return RETURN_CODES.get(self.code, "unknown")


def parse_return(cfg: MyDataConfig, raw_query: str) -> ReturnVisit:
    """The browser's return from MyData; the encrypted tx_id is not URL-encoded there."""
    pairs = dict(parse_qsl(raw_query.replace("+", "%2B"), keep_blank_values=True))
    try:
        code = int(pairs.get("code", "0"))
    except ValueError:
        code = 400
    tx_id = None
    if pairs.get("tx_id"):
        try:
            tx_id = crypto.decrypt_b64(pairs["tx_id"], cfg.client_secret, cfg.cbc_iv)
        except crypto.MyDataCryptoError:
            tx_id = None
    return ReturnVisit(code, tx_id, pairs.get("corr"))


@dataclass(frozen=True)
class Download:
    """One attempt at ``service/data``."""

    status: str  # ready, wait, already, gone, failed
    payload: bytes | None = None
    retry_after: int = 0
    http_status: int = 0


def download(cfg: MyDataConfig, permission_ticket: str, tx_id: str | None = None) -> Download:
    headers = {"permission_ticket": permission_ticket}
    if tx_id:
        headers["tx_id"] = tx_id
    response = requests.get(cfg.service_url("service/data"), headers=headers,
                            timeout=(cfg.connect_timeout, cfg.read_timeout))
    code = response.status_code
    if code == 200:
        return Download("ready", response.content, http_status=200)
    if code == 429:
        try:
            wait = max(10, int(response.headers.get("Retry-After", "10")))
        except ValueError:
            wait = 10
        return Download("wait", retry_after=wait, http_status=429)
    if code == 201:
        return Download("already", http_status=201)
    if code in (403, 504):
        return Download("gone", http_status=code)
    return Download("failed", http_status=code)


def decrypt_package(cfg: MyDataConfig, secret_key_b64: str, jwe: bytes | str) -> bytes:
    """The zip inside the JWE, using the per-transaction secret from the notify body."""
    secret = crypto.decrypt_b64(secret_key_b64, cfg.client_secret, cfg.cbc_iv)
    token = jwe.decode() if isinstance(jwe, bytes) else jwe
    return package.unwrap_payload(crypto.jwe_decrypt(token.strip(), secret.encode()))


@dataclass(frozen=True)
class CounterAnswer:
    """MyData's answer in counter mode (臨櫃)."""

    status: str  # sent, ready, wrong_otp, expired, locked, unknown, failed
    http_status: int
    remaining: int | None = None
    secret_key: str | None = None
    jwe: str | None = None


def _counter_call(cfg: MyDataConfig, path: str, body: dict) -> CounterAnswer:
    response = requests.post(cfg.service_url(path), json={"client_id": cfg.client_id, **body},
                             timeout=(cfg.connect_timeout, cfg.read_timeout))
    code = response.status_code
    payload = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    status = {200: "ready", 401: "wrong_otp", 404: "unknown", 408: "expired", 423: "locked"}.get(code, "failed")
    return CounterAnswer(status, code, payload.get("remaining"), payload.get("secret_key"), payload.get("data"))


def counter_request_otp(cfg: MyDataConfig, barcode: str) -> CounterAnswer:
    """The clerk entered the citizen's barcode: MyData texts the citizen a one-time password."""
    answer = _counter_call(cfg, "service/counter/otp", {"barcode": barcode})
    return CounterAnswer("sent", 200) if answer.status == "ready" else answer


def counter_fetch(cfg: MyDataConfig, barcode: str, otp: str) -> CounterAnswer:
    return _counter_call(cfg, "service/counter/data", {"barcode": barcode, "otp": otp})
