"""How a job's failure is recorded: a code, an English message template (translated when shown) and its
parameters, and whether it is worth another attempt."""
from __future__ import annotations

from typing import Callable

from media_pipeline.errors import EngineError, InvalidMedia, ToolMissing
from storage.errors import StorageError
from storage.models import Job
from studio.errors import N_, StudioError


def classify(exc: Exception) -> tuple[str, str, dict, bool]:
    """(code, message template, params, transient) for an exception."""
    from media_pipeline.asr import ModelMissing
    from media_pipeline.profiles import ProfileInvalid
    from media_pipeline.publication import PublicationError
    from media_pipeline.tts import NoVoice
    from media_pipeline.validate import RenditionInvalid
    if isinstance(exc, StudioError):
        params = {k: v if isinstance(v, (int, float)) else str(v) for k, v in exc.params.items()}
        return exc.code, exc.message, params, exc.transient
    table = [
        (NoVoice, "no_voice", N_("No installed voice speaks this language; install a voice or map the language "
                                 "to another voice on the voices page.")),
        (ToolMissing, "tool_missing", N_("A program the studio needs is not installed on the server; ask the "
                                         "administrator.")),
        (InvalidMedia, "invalid_media", N_("A media file of this work cannot be read; upload it again.")),
        (RenditionInvalid, "rendition_invalid", N_("The rendered file did not meet its channel profile; an "
                                                   "administrator can find the details in the server log.")),
        (ModelMissing, "model_missing", N_("The speech recognition model is not installed on the server.")),
        (PublicationError, "publication_failed", N_("The publication could not be built from this text.")),
    ]
    if isinstance(exc, ProfileInvalid):  # our own check of an admin's settings: the reason helps them
        return "profile_invalid", N_("The channel profile %(profile)s cannot be used: %(setting)s is %(value)s. An "
                                     "administrator must correct it on the media settings page."), \
            {"profile": exc.profile, "setting": exc.setting, "value": exc.value}, False
    for cls, code, msg in table:
        if isinstance(exc, cls):
            return code, msg, {}, False
    if isinstance(exc, StorageError):
        return "storage_unavailable", N_("The object store could not be reached."), {}, True
    if isinstance(exc, EngineError):
        return "engine_failed", N_("A media program failed while working on this job; an administrator can "
                                   "find the details in the server log."), {}, True
    return "internal", N_("An unexpected error stopped this job; an administrator can find the details in the "
                          "server log."), {}, True


def error_values(code: str, message: str, **params) -> dict:
    """The job columns that record a failure."""
    return {"error_code": code, "error_message": message, "error_params": params,
            "error": message % params if params else message}


def record_error(job: Job, code: str, message: str, **params) -> None:
    """Write a failure (or, with empty code and message, clear it) on the job."""
    for key, value in error_values(code, message, **params).items():
        setattr(job, key, value)


def error_text(job: Job, gettext: Callable[..., str]) -> str:
    """The job's failure in the reader's language (gettext from the web layer)."""
    if job.error_message:
        return gettext(job.error_message, **(job.error_params or {}))
    return job.error
