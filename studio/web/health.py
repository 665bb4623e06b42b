"""GET /healthz: database, object store and queue."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from studio.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when every component answers, else 503 naming what is down."""
    status: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        status["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report any failure as "down", with its reason
        status["database"] = f"down: {exc.__class__.__name__}: {exc}"
    store = current_app.extensions.get("objectstore")
    if store is None:
        status["storage"] = "down: no object store configured (STUDIO_S3_URL)"
    else:
        try:
            store.ping()
            status["storage"] = "ok"
        except Exception as exc:  # noqa: BLE001
            status["storage"] = f"down: {exc}"
    try:
        current_app.extensions["jobs"].check()
        status["queue"] = "ok"
    except Exception as exc:  # noqa: BLE001
        status["queue"] = f"down: {exc}"
    ok = all(v == "ok" for v in status.values())
    return jsonify(status=("ok" if ok else "degraded"), **status), (200 if ok else 503)
