"""The studio's exception hierarchy; the web layer maps each to an HTML page or a JSON error."""
from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for a marker
    """Mark a message for translation without translating it here (services do not import Flask)."""
    return message


class StudioError(Exception):
    """A failure a person can act on: `message` is an English template, `params` fill it."""

    status = 400
    code = "bad_request"
    transient = False  # a job that fails with it is tried again (studio/jobs/failures.py)

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class ValidationError(StudioError):
    """The input is wrong; `field` names the form field when there is one."""

    status = 400
    code = "validation_error"

    def __init__(self, message: str, field: str | None = None, **params):
        if field is not None and "%(field)s" in message:
            params["field"] = field
        super().__init__(message, **params)
        self.field = field


class UnsupportedMedia(ValidationError):
    """An upload whose content is not a picture, audio or video we accept."""

    status = 415
    code = "unsupported_media"


class TooLarge(ValidationError):
    """An upload or request over its size or pixel limit."""

    status = 413
    code = "too_large"


class NotFound(StudioError):
    """No such object, or not visible to this user."""

    status = 404
    code = "not_found"


class PermissionDenied(StudioError):
    """The user's roles do not allow this."""

    status = 403
    code = "forbidden"


class Conflict(StudioError):
    """The object changed since the caller read it, or the state forbids the change."""

    status = 409
    code = "conflict"


class TooManyRequests(StudioError):
    """Throttled, for example after repeated failed logins."""

    status = 429
    code = "too_many_requests"
