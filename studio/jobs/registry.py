"""What runs each kind of job: handlers register by kind, and a handler sees its job through a `Context`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.orm import Session

from media_pipeline import tools
from storage.models import Job, utcnow


def _entry(msg: str) -> dict:
    return {"at": utcnow().isoformat(timespec="seconds"), "msg": msg}


def add_log(job: Job, msg: str) -> None:
    """Append a line to the job's log (the last 200 are kept)."""
    job.log = [*(job.log or [])[-200:], _entry(msg)]


@dataclass
class Handler:
    """What runs a kind of job, what it needs and how long it may take."""

    kind: str
    fn: Callable[..., Any]
    needs: tuple[str, ...] = ()
    timeout: Callable[[Session, Job], float] | None = None


_HANDLERS: dict[str, Handler] = {}


def handler(kind: str, needs: tuple[str, ...] = (), timeout: Callable[[Session, Job], float] | None = None):
    """Register the function that runs jobs of `kind`: fn(ctx, **needs); returns a rendition id or None."""
    def deco(fn):
        _HANDLERS[kind] = Handler(kind, fn, tuple(needs), timeout)
        return fn
    return deco


def handlers() -> dict[str, Handler]:
    """The registry by kind: what the modules the worker wiring imported registered (studio/jobs/worker.py)."""
    return _HANDLERS


@dataclass
class Context:
    """What a handler sees of its job: the session, the row, progress and the stop check."""

    session: Session
    job: Job
    scope: tools.Scope

    def progress(self, pct: int, msg: str) -> None:
        """Record progress (commits); raises tools.Stopped when the job was cancelled or must stop."""
        self.scope.check()
        self.session.refresh(self.job, ["cancel_requested"])
        if self.job.cancel_requested:
            raise tools.Stopped("cancel")
        self.job.progress = max(self.job.progress, min(99, pct))
        add_log(self.job, msg)
        self.session.commit()
