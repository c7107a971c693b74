"""The service-finding assistant against the evaluation questions in tests/assistant_eval.json.

A fresh SQLite database is migrated and seeded (the full catalog), and every question goes
through ``POST /assistant/ask`` exactly as the portal's chat box sends it, so the time is the
whole answer: the catalog-version check, the search, the reply and any logging.

Run:

    .venv/bin/python bench/assistant_eval.py [--misses]

Prints e.g. ``assistant: 169 questions, top-1 0.95, top-3 0.98, median 3.1 ms``.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONESTOP_PASSWORD_PROFILE", "test")

from engine.migrate import upgrade  # noqa: E402
from webapp import create_app, seed, services  # noqa: E402
from webapp.assistant import evaluation  # noqa: E402

QUESTIONS = ROOT / "tests" / "assistant_eval.json"


def build_app(workdir: Path):
    url = f"sqlite:///{workdir / 'onestop.db'}"
    upgrade(url)
    os.environ.setdefault("ONESTOP_INSTANCE", str(workdir / "instance"))
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench", "PUBLIC_BASE_URL": "http://bench",
                      "MYDATA_EMBEDDED_SANDBOX": False, "PETITION_1999_EMBEDDED_SANDBOX": False})
    with app.app_context():
        seed.seed(services.get().engine, ROOT / "bpmn")
    return app


def asker(app):
    """Asks like the chat box: one browser session, the CSRF token from the portal page."""
    http = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/").get_data(as_text=True)).group(1)

    def ask(question: str) -> list[str]:
        response = http.post("/assistant/ask", json={"q": question}, headers={"X-CSRFToken": token})
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["key"] for item in response.get_json()["items"]]

    ask("長照")  # builds the index once, as the first question after a start would
    return ask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="also list the questions answered wrongly")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        app = build_app(Path(workdir))
        result = evaluation.evaluate(asker(app), evaluation.load(QUESTIONS))
        with app.app_context():
            services.get().db.dispose()
    if args.misses:
        for question, keys in result.misses:
            print(f"  miss: {question} → {', '.join(keys) or '(no answer)'}")
    print(result.summary())


if __name__ == "__main__":
    main()
