"""Blueprints, shared view helpers and the error handlers."""
from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from datetime import timedelta

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from storage.errors import StorageError
from studio.errors import PermissionDenied, StudioError
from studio.services import Caller

log = logging.getLogger(__name__)


def client_ip() -> str:
    """The caller's address (behind a proxy, configure ProxyFix so this is the real one)."""
    return request.remote_addr or ""


def caller() -> Caller:
    """The logged-in user (or API token owner) and address, for services."""
    user = current_user if getattr(current_user, "is_authenticated", False) else None
    return Caller(user=user, ip=client_ip())


def wants_json() -> bool:
    """API paths, and clients that prefer JSON, get JSON errors."""
    if request.path.startswith("/api/") or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def message_of(exc: StudioError) -> str:
    """The error's message in the user's language (stored codes among its values too, see labels.param)."""
    from studio.web.labels import param
    if not exc.params:
        return gettext(exc.message)
    return gettext(exc.message, **{k: param(k, v) for k, v in exc.params.items()})


def role_required(*roles: str):
    """View decorator: log in first, then one of these roles (checked on the server, always)."""
    def deco(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if wants_json():
                    return error_response(401, "unauthorized", gettext("Log in or send an API token."))
                return redirect(url_for("auth.login", next=request.full_path))
            if roles and not current_user.has_role(*roles):
                raise PermissionDenied("This needs the role: %(roles)s.", roles=", ".join(roles))
            return view(*args, **kwargs)
        return wrapped
    return deco


# Sent with every answer (also the feed's unchanged answers, made outside Flask in studio/web/serving.py).
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "same-origin"),
                    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                                                "style-src 'self'; script-src 'self'; frame-ancestors 'none'"))


def error_response(status: int, code: str, message: str, field: str | None = None):
    """A JSON error or an HTML error page with the same message."""
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if field:
            body["error"]["field"] = field
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def job_error(job) -> str:
    """A job's failure in the reader's language (stored as a message id and its parameters, codes among them
    said through their tables as in message_of)."""
    from studio.services import jobs
    from studio.web.labels import param
    return jobs.error_text(job, lambda message, **params: gettext(message, **{k: param(k, v)
                                                                              for k, v in params.items()}))


def register(app: Flask) -> None:
    """Attach blueprints, error handlers and template helpers."""
    from studio.extensions import db, login_manager
    from studio.web import (admin, api, auth, distribution, feedback, health, media, public, reports, settings,
                            translate, works)

    for mod in (auth, works, media, translate, settings, admin, distribution, health, api, public, feedback,
                reports):
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


@contextmanager
def spooled(file, prefix: str = "upload-"):
    """Write an uploaded file to the instance's tmp folder; yields its path and removes it afterwards."""
    import os
    import tempfile

    from flask import current_app

    from studio.errors import N_, ValidationError
    if file is None or not file.filename:
        raise ValidationError(N_("Choose a file to upload."), field="file")
    tmpdir = os.path.join(current_app.config["INSTANCE"], "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=tmpdir, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as out:
            file.save(out)
        yield path
    finally:
        os.unlink(path)


def receive_upload(who: Caller, work_id: int, file, role: str = "attachment", language: str | None = None):
    """Spool an uploaded file, check and store it, commit; the spool is removed."""
    from flask import current_app

    from studio.errors import N_
    from studio.extensions import db
    from studio.services import assets

    store = current_app.extensions.get("objectstore")
    if store is None:
        raise StudioError(N_("The object store is not configured; uploads are unavailable."))
    with spooled(file) as path:
        asset = assets.upload(db.session, store, who, work_id, path, file.filename,
                              current_app.config["MAX_CONTENT_LENGTH"], current_app.config["MAX_IMAGE_PIXELS"],
                              role=role, language=language)
        db.session.commit()
        return asset


def form_error(exc: StudioError) -> None:
    """Flash a service error on the page being re-rendered."""
    flash(message_of(exc), "error")
