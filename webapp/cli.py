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


@main.command("demo-permits")
@click.option("--count", default=24, type=int, help="How many approved permits the demo should have.")
def demo_permits(count: int) -> None:
    """Approve demo large-vehicle permits with drawn routes, for the heatmap and reports (idempotent)."""
    from . import demo, services

    app = _app()
    with app.app_context():
        svc = services.get()
    click.echo(f"Approving demo permits (up to {count})…")
    issued = demo.issue_permits(svc, count, progress=lambda n: n % 6 == 0 and click.echo(f"  {n} issued"))
    click.echo(f"Demo permits ready ({issued} new).")


@main.command("rebuild-heatmap")
def rebuild_heatmap() -> None:
    """Recount the permit heatmap's map cells from the issued permits (once after migrating to 0018)."""
    from engine.db import transaction
    from reports import heatmap

    from . import services

    app = _app()
    with app.app_context():
        sessions = services.get().sessions
    click.echo("Recounting the heatmap's map cells…")
    with transaction(sessions) as s:
        rows = heatmap.rebuild(s)
    click.echo(f"Heatmap rebuilt: {rows} rows.")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def run(host: str, port: int) -> None:
    """Serve the web app for one machine (development server, threaded)."""
    import os

    from handlers.mydata.sandbox.server import MyDataRequestHandler

    from . import config, devmail
    from .worker import start_in_background

    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    os.environ.setdefault("ONESTOP_WORKER_INTERVAL", "5")  # a snappier demo than the 30 s default
    if not os.environ.get("SMTP_HOST"):
        mbox = os.environ.setdefault("ONESTOP_DEV_MAILBOX", str(config.INSTANCE / "dev-mailbox.mbox"))
        os.environ["SMTP_HOST"], smtp_port = devmail.start(Path(mbox))
        os.environ["SMTP_PORT"] = str(smtp_port)
    app = _app()
    start_in_background(app)
    click.echo(f"Onestop is serving on http://{host}:{port}/ (MyData sandbox at /mydata-sandbox/, "
               f"mail at /dev/mailbox)" if app.config.get("DEV_MAILBOX_PATH") else
               f"Onestop is serving on http://{host}:{port}/ (MyData sandbox at /mydata-sandbox/)")
    app.run(host=host, port=port, threaded=True, use_reloader=False,
            request_handler=MyDataRequestHandler)


@main.command()
def worker() -> None:
    """Run timers and MyData downloads until stopped (any number may run)."""
    from .worker import run_forever

    app = _app()
    click.echo("Onestop worker running; Ctrl+C stops it.")
    run_forever(app, app.config["WORKER_INTERVAL_SECONDS"])


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
