"""The studio web application: create_app() builds it."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from storage.models import INT64_MAX

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent


def _template_folder() -> str:
    """Templates ship as studio/templates in a wheel; in a checkout they live in the top-level templates/."""
    installed = PACKAGE_DIR / "templates"
    return str(installed if installed.is_dir() else PACKAGE_DIR.parent / "templates")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL and foreign keys for SQLite; other databases are left alone."""
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()


def select_locale() -> str:
    """Session choice, then the user's setting, then the browser's, Vietnamese by default."""
    from flask import current_app
    from flask_login import current_user
    langs = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in langs:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in langs:
        return current_user.locale
    return request.accept_languages.best_match(langs) or "vi"


class Int64Converter(IntegerConverter):
    """<int:...> limited to what the database's integer columns hold: a larger number is a 404.

    (Werkzeug's own `max` makes the rule not match, after which another rule of the same path can answer 405.)
    """

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > INT64_MAX:
            raise NotFound()
        return number


def _private_instance(config: dict) -> None:
    """The instance folder (0700) and a SQLite database file (0600) readable by this account alone: they hold
    drafts, citizens' details and password hashes. SQLite gives its -wal and -shm files the same mode."""
    import os
    instance = Path(config["INSTANCE"])
    instance.mkdir(parents=True, exist_ok=True)
    os.chmod(instance, 0o700)
    uri = config.get("SQLALCHEMY_DATABASE_URI", "")
    if uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
        db_file = Path(uri[len("sqlite:///"):])
        if not db_file.exists():
            db_file.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(db_file, 0o600)


def create_app(test_config: dict | None = None, environ: dict | None = None) -> Flask:
    """Build the app from its configuration (studio/config.py: defaults, the instance's config.py, STUDIO_*
    from `environ` or os.environ), overridden by `test_config`."""
    from studio.config import load_config
    from studio.extensions import babel, csrf, db, login_manager, migrate

    app = Flask(__name__, template_folder=_template_folder(), static_folder="web/static")
    app.config.update(load_config(environ))
    app.config.update(test_config or {})
    _private_instance(app.config)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(PACKAGE_DIR / "translations")
    from studio.services import clock
    clock.configure(app.config["TIMEZONE"])
    from media_pipeline import tools
    tools.configure(app.config["TOOL_BINARIES"])

    db.init_app(app)
    import storage
    migrate.init_app(app, db, directory=str(Path(storage.__file__).resolve().parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    babel.init_app(app, locale_selector=select_locale)

    if app.config.get("S3_URL"):
        from storage.objectstore import ObjectStore
        app.extensions["objectstore"] = ObjectStore.from_url(app.config["S3_URL"])

    from studio.watchdog import Watchdog
    app.extensions["watchdog"] = Watchdog()
    from studio.services.feeds import FeedCache
    app.extensions["feeds"] = FeedCache()  # this process's computed feeds (the poll path and the feed API)
    from studio.services.sightings import Sightings
    with app.app_context():
        app.extensions["sightings"] = Sightings(db.engine)
    from studio.jobs import worker
    worker.init_app(app)

    app.url_map.converters["int"] = Int64Converter  # ids beyond 64 bits do not match: 404, not a 500
    if app.config.get("TRUSTED_PROXIES"):  # the client address behind that many proxies (X-Forwarded-For)
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from studio.web import register
    register(app)
    return app
