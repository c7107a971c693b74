"""Passwords are argon2id; outside tests with the library's full-strength parameters."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_production_hashes_use_argon2id_at_full_strength():
    env = {k: v for k, v in os.environ.items() if k != "ONESTOP_PASSWORD_PROFILE"}
    out = subprocess.run([sys.executable, "-c", "from webapp.auth import hash_password; print(hash_password('pw'))"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), out
