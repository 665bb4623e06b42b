"""The web layer: register() attaches the blueprints, the error handlers and the template helpers.

The views' shared helpers live in studio/web/helpers.py, so a blueprint never imports this package back.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from storage.errors import StorageError
from studio.errors import StudioError
from studio.web.helpers import SECURITY_HEADERS, error_response, job_error, message_of

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    """Attach blueprints, error handlers and template helpers."""
    from studio.extensions import db, login_manager
    from studio.web import (admin, api, auth, cap, cap_api, endpoint_api, endpoints, feedback, health, media,
                            programme, programme_api, public, reports, settings, sites, translate, works)

    for mod in (auth, works, media, translate, settings, admin, endpoints, health, api, programme_api, cap_api,
                endpoint_api, public, feedback, reports, programme, cap, sites):
        app.register_blueprint(mod.bp)

    @login_manager.user_loader
    def load_user(user_id: str):
        """The session's user, if still active and the password has not changed since the login."""
        from storage.models import User
        uid, _, stamp = user_id.partition(":")
        user = db.session.get(User, int(uid)) if uid.isdigit() else None
        return user if user and user.active and stamp == user.session_stamp else None

    @app.errorhandler(StudioError)
    def studio_error(exc: StudioError):
        db.session.rollback()
        return error_response(exc.status, exc.code, message_of(exc), getattr(exc, "field", None))

    @app.errorhandler(StorageError)
    def storage_error(exc: StorageError):
        db.session.rollback()
        log.error("object store: %s", exc)
        # The details (addresses, the client library's words) go to the server log, not to the reader.
        return error_response(503, "storage_unavailable",
                              gettext("The object store is not available. Nothing was saved; try again in a "
                                      "moment, and tell an administrator if it persists."))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, "csrf", gettext("The form's security token is missing or expired. "
                                                   "Go back, reload the page and submit again."))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        limit = app.config["MAX_CONTENT_LENGTH"] // 2**20
        return error_response(413, "too_large", gettext("The upload is over the limit of %(limit)s MB.",
                                                        limit=limit))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        from studio.web.labels import http_message
        resp = app.make_response(error_response(exc.code or 500, exc.name.lower().replace(" ", "_"),
                                                http_message(exc.code or 500)))
        for name, value in exc.get_headers():  # Allow on 405, as RFC 9110 requires
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    from studio.web.labels import label
    app.jinja_env.globals["label"] = label  # a global, so imported macros see it too
    from studio.web.labels import rule
    app.jinja_env.globals["rule_label"] = rule
    app.jinja_env.filters["labelled"] = lambda value, group: label(group, value)  # for |map("labelled", group)

    @app.context_processor
    def helpers():
        from flask_babel import get_locale

        from studio.services.markup import render as markdown
        return {"markdown": markdown, "languages": app.config["LANGUAGES"], "get_locale": get_locale,
                "job_error": job_error, "time_zone": app.config["TIMEZONE"], "offline_endpoints": offline_endpoints}

    def offline_endpoints() -> int:
        """How many endpoints are offline now (the menu's badge); counted once per page."""
        from flask import g

        from storage.models import utcnow
        from studio.services import network
        if "offline_endpoints" not in g:
            g.offline_endpoints = network.offline_count(
                db.session, utcnow(), timedelta(minutes=app.config["NETWORK_OFFLINE_MINUTES"]))
        return g.offline_endpoints

    @app.template_filter("detail")
    def detail_filter(value) -> str:
        """Audit details as readable `field: value` text in the reader's language (see labels.detail)."""
        from studio.web.labels import detail
        return detail(value)

    @app.template_filter("local")
    def local_time(value) -> str:
        """A stored (UTC) time in the studio's time zone, e.g. 23/11/2026 08:52 (GMT+7)."""
        from studio.services import clock
        return clock.label(value)

    @app.template_filter("localiso")
    def local_iso(value) -> str:
        """A stored (UTC) time as local ISO 8601, e.g. 2026-11-23T08:52:00+07:00 (a datetime-local input takes
        its first 16 characters)."""
        from studio.services import clock
        return clock.iso(value) or ""

    @app.template_filter("filesize")
    def filesize_filter(n: int) -> str:
        """1536 -> '1.5 KB'."""
        for unit in ("B", "KB", "MB", "GB"):
            if n < 1024 or unit == "GB":
                return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
            n /= 1024
        return f"{n:.1f} GB"

    @app.after_request
    def security_headers(resp):
        for name, value in SECURITY_HEADERS:
            resp.headers.setdefault(name, value)
        return resp
