"""The views' shared helpers: the caller, roles, errors as responses, uploads, form errors."""
from __future__ import annotations

import functools
import logging
from contextlib import contextmanager

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from studio.errors import N_, PermissionDenied, StudioError, ValidationError
from studio.services import Caller

log = logging.getLogger(__name__)


def client_ip() -> str:
    """The caller's address (behind a proxy, configure ProxyFix so this is the real one)."""
    return request.remote_addr or ""


def public_base() -> str:
    """The readers' address (STUDIO_PUBLIC_URL, else this request's), for links in feeds and e-mails."""
    from flask import current_app
    return (current_app.config["PUBLIC_URL"] or request.url_root).rstrip("/")


def caller() -> Caller:
    """The logged-in user (or API token owner) and address, for services."""
    user = current_user if getattr(current_user, "is_authenticated", False) else None
    return Caller(user=user, ip=client_ip())


def start_page() -> str:
    """Where the logged-in user starts: the works, or for a commune's radio operator, the programme."""
    user = caller().user
    if user is not None and user.role_set <= {"operator"}:
        return url_for("programme.index")
    return url_for("works.index")


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
    from studio import jobs
    from studio.web.labels import param
    return jobs.error_text(job, lambda message, **params: gettext(message, **{k: param(k, v)
                                                                              for k, v in params.items()}))


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


class Failure:
    """What `form_errors` caught: false while nothing failed; `status` is the answer's status either way."""

    error: StudioError | None = None

    def __bool__(self) -> bool:
        return self.error is not None

    @property
    def status(self) -> int:
        return self.error.status if self.error is not None else 200


@contextmanager
def form_errors(json: bool = False):
    """The one way an HTML view meets a service error: the transaction is rolled back and the error's message is
    flashed in the user's language; the view then redirects, or re-renders its form with `failed.status`::

        with form_errors() as failed:
            works.transition(...)
            db.session.commit()
        if failed:
            return redirect(...)

    With `json=True` a request that wants JSON (the editors' scripts) gets the error raised instead, for the
    JSON error handler."""
    failed = Failure()
    try:
        yield failed
    except StudioError as exc:
        from studio.extensions import db
        db.session.rollback()
        if json and wants_json():
            raise
        flash(message_of(exc), "error")
        failed.error = exc


def bearer() -> str:
    """The request's bearer token, or ""."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def json_body(schema: str | None = None) -> dict:
    """The request's JSON object, checked against the OpenAPI schema `schema`, or a 400 that says what is wrong."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError(N_("The request body must be a JSON object (Content-Type: application/json)."))
    if schema:
        from studio.extensions import db
        from studio.services import languages
        from studio.web.openapi import validate_body
        codes = [lang.code for lang in languages.all_languages(db.session)] if schema.startswith("Work") else None
        validate_body(data, schema, codes)
    return data
