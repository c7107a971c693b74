"""MyData settings: every URL, identifier and key comes from configuration."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography import x509

from .datasets import (
    COMPANY,
    DISABILITY,
    HOUSEHOLD,
    INCOME,
    LOW_INCOME,
    PROPERTY,
    VEHICLES,
    WHOLE_HOUSEHOLD,
)

#: Datasets each service asks for (resource ids; configuration, not code).
SERVICE_RESOURCES: dict[str, tuple[str, ...]] = {
    "large_vehicle_permit": (VEHICLES, COMPANY),
    "low_income": (HOUSEHOLD, WHOLE_HOUSEHOLD, INCOME, PROPERTY, LOW_INCOME, DISABILITY),
    "long_term_care": (HOUSEHOLD, LOW_INCOME, DISABILITY),
}


@dataclass(frozen=True)
class MyDataConfig:
    base_url: str
    client_id: str
    client_secret: str
    cbc_iv: str
    return_url: str
    sp_api_key: str | None = None
    trust_store: tuple[x509.Certificate, ...] = ()
    resources: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(SERVICE_RESOURCES))
    download_window: timedelta = timedelta(hours=8)
    retention: timedelta = timedelta(days=int(os.environ.get("MYDATA_RETENTION_DAYS", "400")))
    connect_timeout: float = 15.0
    read_timeout: float = 30.0
    max_attempts: int = 30

    def service_url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


def load_trust_store(path: str | Path) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM bundle."""
    return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))


def from_env(return_url: str) -> MyDataConfig | None:
    """Settings from MYDATA_* variables, or None when MyData is not configured."""
    base = os.environ.get("MYDATA_BASE_URL")
    if not base:
        return None
    trust = os.environ.get("MYDATA_TRUST_STORE")
    return MyDataConfig(
        base_url=base,
        client_id=os.environ["MYDATA_CLIENT_ID"],
        client_secret=os.environ["MYDATA_CLIENT_SECRET"],
        cbc_iv=os.environ["MYDATA_CBC_IV"],
        return_url=return_url,
        sp_api_key=os.environ.get("MYDATA_SP_API_KEY"),
        trust_store=load_trust_store(trust) if trust else (),
    )
