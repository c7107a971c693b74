"""Per-client request limits and a short-lived result cache for the public open-data API.

Both live in the process: each web process limits and caches on its own, so
with N processes a client may make up to N times the limit. Neither keeps
anything beyond a client address's recent request times and aggregate figures.
"""
from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_RATE = re.compile(r"\s*(\d+)\s*(?:/|per)\s*(second|minute|hour)\s*")


def parse_rate(setting: int | str) -> tuple[int, float]:
    """``60``, ``"60/minute"`` or ``"5 per second"`` as (requests, window in seconds); a bare number is per minute."""
    if isinstance(setting, int) or str(setting).strip().isdigit():
        return int(setting), PERIODS["minute"]
    found = _RATE.fullmatch(str(setting))
    if not found:
        raise ValueError(f"OPEN_DATA_RATE: expected e.g. '60/minute', got {setting!r}")
    return int(found.group(1)), PERIODS[found.group(2)]


class RateLimiter:
    """A sliding window per client: at most ``limit`` requests in any ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 100_000) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.limit, self.window, self.clock, self.max_clients = limit, window, clock, max_clients
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str) -> float:
        """Count one request; 0 if it may go ahead, else the seconds until it would be allowed."""
        with self._lock:
            now = self.clock()
            if len(self._seen) >= self.max_clients:
                self._forget_idle(now)
            times = self._seen.setdefault(client, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return times[0] + self.window - now
            times.append(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        for client in [c for c, times in self._seen.items() if not times or times[-1] <= now - self.window]:
            del self._seen[client]


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
