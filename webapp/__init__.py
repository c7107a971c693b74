"""The Onestop web application: citizen portal, clerk workbench, supervisor pages, API."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from apiflask import APIFlask
from flask import render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.errors import CaseConflict, Forbidden, NotFound

from . import config as settings
from . import security, services
from .extensions import babel, csrf, login_manager

TAIPEI = ZoneInfo("Asia/Taipei")
LOCALES = ("zh_TW", "en")


def select_locale() -> str:
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES, default="zh_TW") if request else "zh_TW"


def create_app(overrides: dict | None = None) -> APIFlask:
    app = APIFlask(
        __name__,
        title="Onestop API",
        version="1",
        spec_path="/api/v1/openapi.json",
        docs_path="/api/v1/docs",
        instance_path=str(settings.INSTANCE),
    )
    app.config.update(settings.from_env())
    app.config.update(overrides or {})
    app.config["SPEC_FORMAT"] = "json"
    app.config["OPENAPI_VERSION"] = "3.1.0"
    app.config["AUTO_404_RESPONSE"] = False
    _configure_api_docs(app)
    _configure_proxies(app)
    _configure_mydata(app)
    _configure_petitions(app)
    app.extensions["onestop"] = services.build(app.config)

    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    _register_error_pages(app)
    return app


def _configure_api_docs(app: APIFlask) -> None:
    """The API documentation's viewer from the npm-installed copy under static/, not a CDN."""
    for setting, asset in (("SWAGGER_UI_CSS", "swagger-ui.css"), ("SWAGGER_UI_BUNDLE_JS", "swagger-ui-bundle.js"),
                           ("SWAGGER_UI_STANDALONE_PRESET_JS", "swagger-ui-standalone-preset.js"),
                           ("DOCS_FAVICON", "favicon-32x32.png")):
        app.config[setting] = f"/static/vendor/swagger-ui/{asset}"


def _configure_proxies(app: APIFlask) -> None:
    """Believe X-Forwarded-For / -Proto from TRUSTED_PROXIES reverse proxies, and from nobody else."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def _configure_mydata(app: APIFlask) -> None:
    """MyData from MYDATA_* settings, or the embedded sandbox for the demo."""
    from handlers.mydata import config as mydata_config

    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    if app.config.get("MYDATA") is None:
        app.config["MYDATA"] = mydata_config.from_env(f"{base}/mydata/return")
    if app.config["MYDATA"] is None and app.config.get("MYDATA_EMBEDDED_SANDBOX"):
        from .sandbox import mount

        app.config["MYDATA"] = mount(app, base)


def _configure_petitions(app: APIFlask) -> None:
    """1999 from PETITION_1999_* settings, or the embedded 1999 sandbox for the demo."""
    if app.config.get("PETITION_1999") is None and app.config.get("PETITION_1999_EMBEDDED_SANDBOX"):
        from .sandbox import mount_1999

        app.config["PETITION_1999"] = mount_1999(app, app.config["PUBLIC_BASE_URL"].rstrip("/"))


def _register_blueprints(app: APIFlask) -> None:
    from . import auth  # noqa: F401 - user loaders
    from .accounts.views import bp as accounts
    from .agents.views import bp as agents
    from .counter.views import bp as counter
    from .api import bp as api
    from .care.views import bp as care
    from .devmail import bp as devmail
    from .admin.views import bp as admin
    from .mydata.views import bp as mydata
    from .portal.views import bp as portal
    from .studio.views import bp as studio
    from .assistant.views import bp as assistant
    from .heatmap.views import bp as heatmap
    from .opendata.views import bp as opendata
    from .signatures.views import bp as signatures
    from .supervisor.views import bp as supervisor
    from .verify.views import bp as verify
    from .workbench.views import bp as workbench

    for blueprint in (accounts, portal, workbench, supervisor, verify, mydata, agents, counter, care, devmail, admin,
                      studio, assistant, heatmap, signatures):
        app.register_blueprint(blueprint)
    app.register_blueprint(api)
    app.register_blueprint(opendata)


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(TAIPEI).strftime(fmt)


def document_url(descriptor: dict) -> str | None:
    doc_id = (descriptor or {}).get("document_id")
    return url_for("portal.document", doc_id=doc_id) if doc_id else None


def _register_template_helpers(app: APIFlask) -> None:
    from engine.masking import mask_id, mask_name

    from . import labels

    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["mask_id"] = mask_id
    app.jinja_env.filters["mask_name"] = mask_name
    app.jinja_env.filters["problem"] = lambda problem: problem.text(_)
    # ``tojson`` keeps the keys' order: a form definition's fields are listed in the order they are written.
    app.jinja_env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    app.jinja_env.globals["labels"] = labels
    app.jinja_env.globals["current_locale"] = select_locale
    app.jinja_env.globals["document_url"] = document_url


def _register_error_pages(app: APIFlask) -> None:
    def page(status: int, title: str, message: str):
        if request.path.startswith("/api/"):
            return {"error": title, "message": message}, status
        return render_template("errors/error.html", status=status, title=title, message=message), status

    @app.errorhandler(404)
    @app.errorhandler(NotFound)
    def not_found(_exc):
        return page(404, _("找不到頁面"), _("您要找的頁面或案件不存在，或您沒有檢視權限。"))

    @app.errorhandler(403)
    @app.errorhandler(Forbidden)
    def forbidden(_exc):
        return page(403, _("無權限"), _("您沒有執行此動作的權限。"))

    @app.errorhandler(CaseConflict)
    def conflict(_exc):
        return page(409, _("案件已被更新"), conflict_message())

    @app.errorhandler(413)
    def too_large(_exc):
        return page(413, _("檔案過大"), _("上傳的資料超過上限，請縮小檔案後再試。"))


def conflict_message() -> str:
    return _("此案件在您開啟後已被其他人處理或更新，您的變更沒有儲存。請重新載入頁面，確認最新狀態後再操作。")
