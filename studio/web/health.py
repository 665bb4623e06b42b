"""GET /healthz: the process's watchdog (a part that stopped beating), the database, object store and queue.

`studio serve` answers /healthz in its event loop (studio/web/serving.py) with the same report, each component
check bounded in time in a pool of its own, so the answer comes even when request threads or a component hang;
this view answers it for the test client and any other WSGI server.
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from studio.extensions import db

bp = Blueprint("health", __name__)


def checks(app: Flask) -> dict[str, Callable[[], None]]:
    """One callable per component; each raises when its component does not answer."""
    def database() -> None:
        with app.app_context():
            try:
                db.session.execute(text("SELECT 1"))
            finally:
                db.session.remove()

    def storage() -> None:
        store = app.extensions.get("objectstore")
        if store is None:
            raise RuntimeError("no object store configured (STUDIO_S3_URL)")
        store.ping()

    def queue() -> None:
        app.extensions["jobs"].check()
    return {"database": database, "storage": storage, "queue": queue}


def describe(exc: BaseException) -> str:
    """A component's failure as the report says it."""
    return f"down: {exc.__class__.__name__}: {exc}" if str(exc) else f"down: {exc.__class__.__name__}"


def report(app: Flask, status: dict[str, str]) -> tuple[dict, int]:
    """The body and HTTP status: 200 when every component answers and no part of the process is stalled, else
    503 naming what is down and which parts stopped beating (with the seconds since their last beat)."""
    stalled = app.extensions["watchdog"].stalled()
    ok = all(v == "ok" for v in status.values()) and not stalled
    body = {"status": "ok" if ok else "degraded", **status, "stalled": stalled}
    return body, 200 if ok else 503


@bp.get("/healthz")
def healthz():
    """200 when every component answers and every part beats, else 503 naming what is down or stalled."""
    status: dict[str, str] = {}
    for name, check in checks(current_app._get_current_object()).items():
        try:
            check()
            status[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - report any failure as "down", with its reason
            status[name] = describe(exc)
    body, code = report(current_app, status)
    return jsonify(body), code
