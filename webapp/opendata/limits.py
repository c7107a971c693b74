"""The open-data API's rate setting, and its short-lived result cache.

The limit itself is counted in the database (``engine.throttle``), so it holds
across web processes. The cache lives in each process: it keeps nothing but
aggregate figures, and a process that has not seen a query computes it anew.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_RATE = re.compile(r"\s*(\d+)\s*(?:/|per)\s*(second|minute|hour)\s*")


def parse_rate(setting: int | str) -> tuple[int, float]:
    """``60``, ``"60/minute"`` or ``"5 per second"`` as (requests, window in seconds); a bare number is per minute."""
    if isinstance(setting, int) or str(setting).strip().isdigit():
        limit, window = int(setting), PERIODS["minute"]
    elif found := _RATE.fullmatch(str(setting)):
        limit, window = int(found.group(1)), PERIODS[found.group(2)]
    else:
        raise ValueError(f"OPEN_DATA_RATE: expected e.g. '60/minute', got {setting!r}")
    if limit < 1:
        raise ValueError(f"OPEN_DATA_RATE: at least one request per period, got {setting!r}")
    return limit, window


class TtlCache:
    """Values kept for ``ttl`` seconds by key; computing a missing one happens outside the lock."""

    def __init__(self, ttl: float, max_entries: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.ttl <= 0:
            return compute()
        with self._lock:
            found = self._entries.get(key)
            if found and found[0] > self.clock():
                return found[1]
        value = compute()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (self.clock() + self.ttl, value)
        return value
