"""A MyData-compatible server: the same endpoints, crypto and package format.

It signs citizens in (simulated), shows the terms, asks for consent, calls the
service provider's SP-API, redirects back, and serves the package once. Faults
can be switched on per test. State lives in this process: one sandbox serves
one demo or one test run.
"""
from __future__ import annotations

import base64
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests
from flask import Flask, abort, jsonify, redirect, render_template, request

from .. import crypto, package
from .records import PROVIDERS, RESOURCES, population

DATA_TTL = timedelta(hours=8)
BARCODE_TTL = timedelta(minutes=20)
OTP_TTL = timedelta(minutes=2)
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)


@dataclass
class Client:
    client_id: str
    client_secret: str
    cbc_iv: str
    return_prefix: str
    sp_api_url: str
    sp_api_key: str | None = None
    allowed_ips: tuple[str, ...] = ("127.0.0.1",)


@dataclass
class Faults:
    """What the sandbox does wrong on purpose; tests set these through /_sandbox/faults."""

    prepare_seconds: float = 0.0
    unable: list[str] = field(default_factory=list)
    all_fail: bool = False
    tamper: str | None = None
    expire_ticket: bool = False
    notify_repeats: int = 0
    code: int | None = None


@dataclass
class Transfer:
    tx_id: str
    client: Client
    resources: list[str]
    national_id: str
    return_url: str
    created: datetime
    ticket: str = ""
    secret: str = ""
    consented_at: float = 0.0
    delivered: list[str] = field(default_factory=list)
    downloaded: bool = False
    status: int = 429


@dataclass
class CounterRequest:
    barcode: str
    national_id: str
    resources: list[str]
    created: datetime
    otp: str | None = None
    otp_at: datetime | None = None
    failures: list[datetime] = field(default_factory=list)
    locked_until: datetime | None = None
    used: bool = False


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Sandbox:
    def __init__(self, clients: list[Client], ca: package.Provider | None = None) -> None:
        self.clients = {c.client_id: c for c in clients}
        self.ca = ca or package.make_ca()
        self.providers = {name: package.make_provider(self.ca, name) for name in set(PROVIDERS.values())}
        self.population = population()
        self.faults = Faults()
        self.transfers: dict[str, Transfer] = {}
        self.counter: dict[str, CounterRequest] = {}
        self.lock = threading.Lock()

    # -- packages ------------------------------------------------------------

    def build(self, client: Client, national_id: str, resources: list[str]) -> bytes:
        specs = []
        for resource_id in resources:
            failed = self.faults.all_fail or resource_id in self.faults.unable
            files = {} if failed else self.population.files(resource_id, national_id)
            spec = package.DatasetSpec(resource_id, RESOURCES[resource_id], 504 if failed else 200, files)
            specs.append((spec, None if failed else self.providers[PROVIDERS[resource_id]]))
        return package.build_package(client.client_id, specs, tamper=self.faults.tamper)

    def payload(self, client: Client, national_id: str, resources: list[str], secret: str) -> str:
        zipped = self.build(client, national_id, resources)
        return crypto.jwe_encrypt(package.wrap_payload(client.client_id, zipped), secret.encode())


def create_sandbox_app(sandbox: Sandbox, *, test_endpoints: bool = False) -> Flask:
    app = Flask(__name__)
    app.config["SANDBOX"] = sandbox

    def client_or_none(client_id: str) -> Client | None:
        return sandbox.clients.get(client_id)

    def back(transfer_or_url, code: int, tx_id: str | None = None, client: Client | None = None):
        """Redirect to the SP's return URL the way MyData does (tx_id encrypted, not URL-encoded)."""
        url = transfer_or_url
        base, _, query = url.partition("?")
        parts = [f"code={code}"]
        if tx_id and client:
            parts.append("tx_id=" + crypto.encrypt_b64(tx_id, client.client_secret, client.cbc_iv))
        if query:
            parts.append(query)
        return redirect(base + "?" + "&".join(parts), code=302)

    @app.get("/service/<client_id>/<resources_b64>/<tx_id>")
    def authorize(client_id: str, resources_b64: str, tx_id: str):
        return_url = request.args.get("returnUrl", "")
        client = client_or_none(client_id)
        if client is None:
            if return_url:
                return back(return_url, 401)
            abort(401)
        if not return_url.split("?")[0] == client.return_prefix:
            return render_template("error.html", code=404,
                                   message="回傳網址與註冊資料不符（404）"), 404
        try:
            resources = base64.b64decode(resources_b64).decode().split(":")
            national_id = crypto.decrypt_b64(request.args.get("pid", ""), client.client_secret,
                                             client.cbc_iv)
        except Exception:  # noqa: BLE001 - anything undecodable is a bad request
            return back(return_url, 400, tx_id, client)
        if not tx_id or any(r not in RESOURCES for r in resources):
            return back(return_url, 401, tx_id, client)
        if sandbox.faults.code:
            return back(return_url, sandbox.faults.code, tx_id, client)
        with sandbox.lock:
            sandbox.transfers[tx_id] = Transfer(tx_id, client, resources, national_id, return_url, _now())
        return render_template("login.html", tx_id=tx_id, resources=resources, names=RESOURCES)

    @app.post("/service/transfer/<tx_id>/login")
    def login(tx_id: str):
        transfer = sandbox.transfers.get(tx_id) or abort(404)
        if request.form.get("national_id", "").strip().upper() != transfer.national_id:
            return back(transfer.return_url, 409, tx_id, transfer.client)
        person = sandbox.population.person(transfer.national_id)
        return render_template("consent.html", transfer=transfer, names=RESOURCES,
                               providers=PROVIDERS, person=person)

    @app.post("/service/transfer/<tx_id>/consent")
    def consent(tx_id: str):
        transfer = sandbox.transfers.get(tx_id) or abort(404)
        if request.form.get("decision") != "agree":
            return back(transfer.return_url, 205, tx_id, transfer.client)
        transfer.ticket = str(uuid.uuid4())
        transfer.secret = crypto.new_secret_hex()
        transfer.consented_at = time.monotonic()
        unable = sorted(set(transfer.resources) & set(sandbox.faults.unable))
        if sandbox.faults.all_fail:
            unable = list(transfer.resources)
        body = {"tx_id": tx_id, "permission_ticket": transfer.ticket}
        if unable:
            body["unable_to_deliver"] = unable
        else:
            body["secret_key"] = crypto.encrypt_b64(transfer.secret, transfer.client.client_secret,
                                                    transfer.client.cbc_iv)
        transfer.delivered = [r for r in transfer.resources if r not in unable]
        if not _notify(transfer.client, body, 1 + sandbox.faults.notify_repeats):
            return back(transfer.return_url, 410, tx_id, transfer.client)
        if unable and not transfer.delivered:
            return back(transfer.return_url, 504, tx_id, transfer.client)
        return back(transfer.return_url, 200, tx_id, transfer.client)

    @app.get("/service/data")
    def data():
        ticket = request.headers.get("permission_ticket")
        if not ticket:
            return jsonify(code=400, text="missing permission_ticket"), 400
        transfer = next((t for t in sandbox.transfers.values() if t.ticket == ticket), None)
        if transfer is None or sandbox.faults.expire_ticket or _now() - transfer.created > DATA_TTL:
            return jsonify(code=403, text="unknown or expired ticket"), 403
        if request.remote_addr not in transfer.client.allowed_ips:
            return jsonify(code=401, text="IP not allowed"), 401
        if not transfer.delivered:
            return jsonify(code=504, text="all datasets failed"), 504
        if transfer.downloaded:
            return jsonify(code=201, text="already downloaded"), 201
        wait = transfer.consented_at + sandbox.faults.prepare_seconds - time.monotonic()
        if wait > 0:
            response = jsonify(code=429, text="preparing")
            response.headers["Retry-After"] = str(max(10, int(wait) + 1))
            return response, 429
        body = sandbox.payload(transfer.client, transfer.national_id, transfer.resources, transfer.secret)
        transfer.downloaded = True
        return body, 200, {"Content-Type": "application/jwe"}

    @app.get("/service/txid_status")
    def txid_status():
        transfer = sandbox.transfers.get(request.headers.get("tx_id", ""))
        if transfer is None:
            return jsonify(code=400, text="unknown tx_id")
        if not transfer.ticket:
            return jsonify(code=429, text="waiting for consent")
        if transfer.downloaded:
            return jsonify(code=201, text="fetched")
        if not transfer.delivered:
            return jsonify(code=504, text="data provider failed")
        if transfer.consented_at + sandbox.faults.prepare_seconds > time.monotonic():
            return jsonify(code=429, text="preparing")
        return jsonify(code=200, text="ready")

    # -- counter mode (臨櫃) -------------------------------------------------

    @app.route("/counter", methods=["GET", "POST"])
    def counter_citizen():
        """The citizen's side: sign in, download for the counter, get a barcode."""
        if request.method == "GET":
            return render_template("counter.html", names=RESOURCES)
        national_id = request.form.get("national_id", "").strip().upper()
        if sandbox.population.person(national_id) is None:
            return render_template("counter.html", names=RESOURCES, error="查無此身分證字號"), 400
        resources = request.form.getlist("resources") or list(RESOURCES)
        barcode = secrets.token_hex(4).upper()
        sandbox.counter[barcode] = CounterRequest(barcode, national_id, resources, _now())
        return render_template("barcode.html", barcode=barcode, names=RESOURCES, resources=resources)

    @app.get("/counter/phone/<barcode>")
    def counter_phone(barcode: str):
        """Stands in for the text message the citizen receives."""
        req = sandbox.counter.get(barcode.upper()) or abort(404)
        return render_template("phone.html", req=req)

    @app.post("/service/counter/otp")
    def counter_otp():
        req, client, error = _counter_request()
        if error:
            return error
        req.otp = f"{secrets.randbelow(10**8):08d}"
        req.otp_at = _now()
        return jsonify(code=200, text="one-time password sent to the citizen")

    @app.post("/service/counter/data")
    def counter_data():
        req, client, error = _counter_request()
        if error:
            return error
        now = _now()
        req.failures = [f for f in req.failures if now - f < LOCK_FOR]
        if req.otp is None or now - req.otp_at > OTP_TTL:
            return jsonify(code=408, text="one-time password expired"), 408
        if request.json.get("otp") != req.otp:
            req.failures.append(now)
            if len(req.failures) >= LOCK_AFTER:
                req.locked_until = now + LOCK_FOR
            return jsonify(code=401, text="wrong one-time password",
                           remaining=max(0, LOCK_AFTER - len(req.failures))), 401
        req.used = True
        secret = crypto.new_secret_hex()
        return jsonify(code=200, secret_key=crypto.encrypt_b64(secret, client.client_secret, client.cbc_iv),
                       data=sandbox.payload(client, req.national_id, req.resources, secret))

    def _counter_request():
        body = request.get_json(silent=True) or {}
        client = client_or_none(body.get("client_id", ""))
        if client is None:
            return None, None, (jsonify(code=401, text="unknown client"), 401)
        req = sandbox.counter.get(str(body.get("barcode", "")).upper())
        now = _now()
        if req is None or req.used or now - req.created > BARCODE_TTL:
            return None, None, (jsonify(code=404, text="unknown or expired barcode"), 404)
        if req.locked_until and now < req.locked_until:
            return None, None, (jsonify(code=423, text="locked after repeated wrong passwords"), 423)
        return req, client, None

    if test_endpoints:
        @app.post("/_sandbox/faults")
        def set_faults():
            sandbox.faults = Faults(**(request.get_json(silent=True) or {}))
            return jsonify(ok=True)

    return app


def _notify(client: Client, body: dict, times: int) -> bool:
    """POST to the SP-API like MyData: only HTTP 200 counts as delivered."""
    headers = {"Content-Type": "application/json"}
    if client.sp_api_key:
        headers["Authorization"] = f"Bearer {client.sp_api_key}"
    ok = True
    for _ in range(times):
        try:
            response = requests.post(client.sp_api_url, json=body, headers=headers, timeout=(15, 15))
            ok = ok and response.status_code == 200
        except requests.RequestException:
            ok = False
    return ok

