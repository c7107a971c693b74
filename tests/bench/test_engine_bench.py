"""The engine benchmark keeps running: a two-case run prints its figures (no timing asserted)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_bench_prints_one_line_per_database():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "engine_bench.py"), "--cases", "2",
         "--postgres-url", "postgresql+psycopg://postgres@127.0.0.1:1/unreachable"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"^sqlite: persisted [\d.]+ ms, in-memory [\d.]+ ms, ratio [\d.]+$",
                     run.stdout, re.M), run.stdout
    assert "postgresql: skipped" in run.stderr
