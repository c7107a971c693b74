"""The ``onestop`` command: migrate, seed, serve, and run workers."""
from __future__ import annotations

import sys
from pathlib import Path

import click


def _app():
    from . import create_app

    return create_app()


@click.group()
def main() -> None:
    """Onestop: BPMN-driven case management for city governments."""


@main.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    from engine.migrate import upgrade

    from . import config

    url = config.from_env()["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    click.echo("Migrating the database…")
    upgrade(url)
    click.echo("Database is up to date.")


@main.command()
def seed() -> None:
    """Load Tainan's agencies, demo accounts and the shipped services (idempotent)."""
    from . import seed as seeding
    from . import services

    app = _app()
    with app.app_context():
        svc = services.get()
        click.echo("Seeding agencies, demo accounts and services…")
        seeding.seed(svc.engine, Path(app.config["BPMN_DIR"]))
    click.echo("Demo data ready.")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def run(host: str, port: int) -> None:
    """Serve the web app for one machine (development server, threaded)."""
    app = _app()
    click.echo(f"Onestop is serving on http://{host}:{port}/")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command()
@click.option("--bind", default="127.0.0.1:8000")
@click.option("--workers", default=2, type=int)
def web(bind: str, workers: int) -> None:
    """Serve the web app with gunicorn (stateless; run as many as you like)."""
    from gunicorn.app.wsgiapp import run as gunicorn_run

    sys.argv = ["gunicorn", "--bind", bind, "--workers", str(workers), "webapp.wsgi:app"]
    gunicorn_run()


if __name__ == "__main__":
    main()
