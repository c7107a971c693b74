"""The demo's outside systems: MyData and 1999 sandboxes mounted on the same server."""
from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from handlers.mydata.config import MyDataConfig
from handlers.mydata.sandbox.app import Client, Sandbox, create_sandbox_app
from handlers.petitions.client import Settings1999
from handlers.petitions.sandbox.app import Sandbox1999
from handlers.petitions.sandbox.app import create_sandbox_app as create_1999_app

from . import config as settings

PREFIX = "/mydata-sandbox"
PREFIX_1999 = "/1999-sandbox"
#: The demo citizen's 1999 membership, with a case they once filed by phone.
DEMO_MEMBERS = ({"member_id": "M1999-000321", "name": "王小明", "email": "citizen@example.tw",
                 "phone": "0912345678",
                 "requests": [{"service_code": "lighting", "agency_responsible": "TB", "status": "closed",
                               "description": "永康區中華路路燈不亮",
                               "status_notes": "已於三日內完成路燈修復，謝謝您的反映。"}]},)


def _random(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _credentials(name: str, make: Callable[[], dict]) -> dict:
    """Demo credentials kept under instance/, generated on first use (never committed)."""
    path = settings.INSTANCE / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    creds = make()
    settings.INSTANCE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(creds))
    path.chmod(0o600)
    return creds


def mount(app: Flask, base_url: str) -> MyDataConfig:
    creds = _credentials("mydata-sandbox", lambda: {
        "client_id": "CLI." + _random(10), "client_secret": _random(16), "cbc_iv": _random(16)})
    sandbox = Sandbox([Client(creds["client_id"], creds["client_secret"], creds["cbc_iv"],
                              return_prefix=f"{base_url}/mydata/return",
                              sp_api_url=f"{base_url}/mydata/sp-api")])
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {PREFIX: create_sandbox_app(sandbox)})
    app.extensions["mydata_sandbox"] = sandbox
    return MyDataConfig(base_url=f"{base_url}{PREFIX}/", client_id=creds["client_id"],
                        client_secret=creds["client_secret"], cbc_iv=creds["cbc_iv"],
                        return_url=f"{base_url}/mydata/return",
                        trust_store=(sandbox.ca.certificate,))


def mount_1999(app: Flask, base_url: str) -> Settings1999:
    creds = _credentials("1999-sandbox", lambda: {"api_key": _random(32)})
    sandbox = Sandbox1999({creds["api_key"]})
    for member in DEMO_MEMBERS:
        sandbox.add_member(member)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {PREFIX_1999: create_1999_app(sandbox, test_endpoints=True)})
    app.extensions["sandbox_1999"] = sandbox
    return Settings1999(base_url=f"{base_url}{PREFIX_1999}", api_key=creds["api_key"])
