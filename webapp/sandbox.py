"""The demo's MyData: the sandbox mounted at /mydata-sandbox of the same server."""
from __future__ import annotations

import json
import secrets
import string

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from handlers.mydata.config import MyDataConfig
from handlers.mydata.sandbox.app import Client, Sandbox, create_sandbox_app

from . import config as settings

PREFIX = "/mydata-sandbox"


def _credentials() -> dict:
    """Demo credentials kept under instance/, generated on first use (never committed)."""
    path = settings.INSTANCE / "mydata-sandbox.json"
    if path.exists():
        return json.loads(path.read_text())
    alphabet = string.ascii_letters + string.digits
    creds = {
        "client_id": "CLI." + "".join(secrets.choice(alphabet) for _ in range(10)),
        "client_secret": "".join(secrets.choice(alphabet) for _ in range(16)),
        "cbc_iv": "".join(secrets.choice(alphabet) for _ in range(16)),
    }
    settings.INSTANCE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(creds))
    path.chmod(0o600)
    return creds


def mount(app: Flask, base_url: str) -> MyDataConfig:
    creds = _credentials()
    sandbox = Sandbox([Client(creds["client_id"], creds["client_secret"], creds["cbc_iv"],
                              return_prefix=f"{base_url}/mydata/return",
                              sp_api_url=f"{base_url}/mydata/sp-api")])
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {PREFIX: create_sandbox_app(sandbox)})
    app.extensions["mydata_sandbox"] = sandbox
    return MyDataConfig(base_url=f"{base_url}{PREFIX}/", client_id=creds["client_id"],
                        client_secret=creds["client_secret"], cbc_iv=creds["cbc_iv"],
                        return_url=f"{base_url}/mydata/return",
                        trust_store=(sandbox.ca.certificate,))
