"""The engine benchmark keeps running: a two-case run prints its figures (no timing asserted)."""
from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]
FIGURE = r"[\d.]+"


def run_bench(postgres_url: str) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "engine_bench.py"), "--cases", "2",
         "--postgres-url", postgres_url],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def test_engine_bench_prints_one_line_per_database():
    run = run_bench("postgresql+psycopg://postgres@127.0.0.1:1/unreachable")
    assert re.search(rf"^sqlite: persisted {FIGURE} ms, in-memory {FIGURE} ms, ratio {FIGURE}$",
                     run.stdout, re.M), run.stdout
    assert "postgresql: skipped" in run.stderr


def test_engine_bench_on_postgresql_reports_the_commit_floor():
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    run = run_bench(f"{PG_URL.rsplit('/', 1)[0]}/onestop_bench_{uuid.uuid4().hex[:8]}")
    assert re.search(rf"^postgresql: persisted {FIGURE} ms, in-memory {FIGURE} ms, ratio {FIGURE}$",
                     run.stdout, re.M), run.stdout
    assert re.search(rf"^postgresql: median start {FIGURE} ms, claim {FIGURE} ms, .*"
                     rf"SQL statements per call: start {FIGURE}, claim 1\.0, ", run.stdout, re.M), run.stdout
    assert re.search(rf"^postgresql: a one-row commit takes {FIGURE} ms after {FIGURE} ms of client work, "
                     rf"as between commands; back to back {FIGURE} ms, {FIGURE} ms without waiting "
                     rf"for the WAL flush$", run.stdout, re.M), run.stdout
