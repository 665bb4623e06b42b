"""Background jobs: the one module that owns a job's life.

    create ──(after commit: notify)──> queued ──claim──> running ──> succeeded
      │ after=[ids]                      ^   (conditional UPDATE)   │──> failed (code + params; retried with
      v                                  │                          │     backoff while transient)
    waiting ──(every dependency done)────┘                          │──> cancelled (cancel kills its programs)
                                         ^── shutdown / stale heartbeat (sweep) puts it back

- Handlers register by kind (`@handler("render", needs=("store", ...))`), each service its own; a handler gets
  a `Context` and only the resources it names. The worker wiring (studio/worker.py) names the modules that
  register handlers (`JOB_HANDLERS`) and supplies resources; this module imports none of them.
- Workers claim in lane order (`rank`): 0 emergency, 1 delivery (publish, feeds), 2 priority, 3 normal; some
  workers take only ranks 0-1, so an emergency never waits behind a long render. Programs of normal and
  priority jobs run with a lower CPU priority (nice 10).
- While a job runs, a heartbeat thread of its own (not the job's progress) writes `heartbeat_at`, only while
  this worker still owns the job; it reads cancel requests and the job's timeout and stops the job's programs
  through its `tools.Scope` within about a second.
- Jobs are handed to workers after the transaction that created them commits (a session hook calls the
  notifier the wiring installed); workers also poll, so a crash between commit and notice loses nothing.
- A failure is stored as a code, an English message template (translated when shown) and its parameters.

Why not huey any more: the job row already held state, claim, retries and cancellation, so a broker message
duplicated it — a job could be committed and never enqueued, or enqueued twice — and huey's consumer can
neither reserve workers for a lane nor stop a running task. The database is the queue; Redis, where
configured, only wakes workers up (studio/worker.py).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from media_pipeline import tools
from media_pipeline.errors import EngineError, InvalidMedia, ToolMissing
from storage.errors import StorageError
from storage.models import Job, utcnow
from studio.errors import N_, Conflict, StudioError
from studio.services import Caller, audit, fetch
from studio.services.accounts import require_role

log = logging.getLogger(__name__)

RANK_EMERGENCY, RANK_DELIVERY, RANK_PRIORITY, RANK_NORMAL = 0, 1, 2, 3
URGENT_MAX_RANK = RANK_DELIVERY    # what reserved workers take
DELIVERY_KINDS = ("publish", "feeds")
FINAL = ("succeeded", "failed", "cancelled")
BACKOFF_S = (10, 60, 300)
DEFAULT_TIMEOUT_S = 3600
_PENDING = "studio.jobs.pending"


def rank_for(kind: str, priority: str) -> int:
    """The lane a job claims in."""
    if priority == "emergency":
        return RANK_EMERGENCY
    if kind in DELIVERY_KINDS:
        return RANK_DELIVERY
    return RANK_PRIORITY if priority == "priority" else RANK_NORMAL


def _entry(msg: str) -> dict:
    return {"at": utcnow().isoformat(timespec="seconds"), "msg": msg}


def add_log(job: Job, msg: str) -> None:
    """Append a line to the job's log (the last 200 are kept)."""
    job.log = [*(job.log or [])[-200:], _entry(msg)]


# ---- handlers ---------------------------------------------------------------------------------------------

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
    """The registry by kind: what the modules the worker wiring imported registered (studio/worker.py)."""
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


# ---- creation and notification ----------------------------------------------------------------------------

_notifiers: list[Callable[[set[int]], None]] = []


def set_notifier(fn: Callable[[set[int]], None] | None) -> None:
    """Install the process's notifier (called after a commit that created runnable jobs, with their ranks)."""
    _notifiers.clear()
    if fn is not None:
        _notifiers.append(fn)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    ranks = session.info.pop(_PENDING, None)
    if ranks:
        for fn in list(_notifiers):
            try:
                fn(ranks)
            except Exception:  # noqa: BLE001 - workers poll as well; a lost notice only delays
                log.exception("job notifier failed")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _mark_runnable(session: Session, rank: int) -> None:
    session.info.setdefault(_PENDING, set()).add(rank)


def create(session: Session, kind: str, *, priority: str = "normal", after: list[int] | tuple = (),
           after_any_outcome: bool = False, max_attempts: int = 3, msg: str = "queued", **fields) -> Job:
    """A new job (queued, or waiting for the jobs in `after`); workers hear of it when the caller commits.

    It waits until each of `after` succeeded (one failing fails it too) or, with `after_any_outcome`, until
    each has ended whatever the outcome (publishing decides itself what it can deliver).
    """
    job = Job(kind=kind, priority=priority, rank=rank_for(kind, priority), depends_on=list(after),
              wait_for="end" if after_any_outcome else "success",
              state="waiting" if after else "queued", max_attempts=max_attempts, log=[_entry(msg)], **fields)
    session.add(job)
    session.flush()
    if not after:
        _mark_runnable(session, job.rank)
    return job


# ---- claiming and running ---------------------------------------------------------------------------------

def new_owner() -> str:
    """A claim token: which process and thread, unique per claim."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(session: Session, job_id: int, owner: str) -> Job | None:
    """Take a queued job atomically; None if another worker has it, it was cancelled or is not due."""
    now = utcnow()
    res = session.execute(update(Job).where(
        Job.id == job_id, Job.state == "queued", or_(Job.run_after.is_(None), Job.run_after <= now)).values(
        state="running", worker=owner, attempts=Job.attempts + 1, started_at=now, heartbeat_at=now))
    session.commit()
    return session.get(Job, job_id) if res.rowcount == 1 else None


def claim_next(session: Session, owner: str, max_rank: int | None = None) -> Job | None:
    """The next due job in lane order (emergency first), claimed; None when there is none."""
    q = select(Job.id).where(Job.state == "queued", or_(Job.run_after.is_(None), Job.run_after <= utcnow()))
    if max_rank is not None:
        q = q.where(Job.rank <= max_rank)
    ids = list(session.scalars(q.order_by(Job.rank, Job.id).limit(8)))
    session.rollback()  # end the read before the conditional update
    for job_id in ids:
        job = claim(session, job_id, owner)
        if job is not None:
            return job
    return None


class _Watch(threading.Thread):
    """The running job's heartbeat: writes `heartbeat_at`, stops the job on cancel, timeout or lost ownership."""

    def __init__(self, bind, job_id: int, owner: str, scope: tools.Scope, timeout_s: float, interval_s: float):
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.bind, self.job_id, self.owner, self.scope = bind, job_id, owner, scope
        self.timeout_s, self.interval_s = timeout_s, interval_s
        self.done = threading.Event()

    def run(self) -> None:
        start = last = time.monotonic()
        with Session(self.bind) as s:
            while not self.done.wait(min(1.0, self.interval_s)):
                try:
                    row = s.execute(select(Job.state, Job.worker, Job.cancel_requested)
                                    .where(Job.id == self.job_id)).one_or_none()
                    s.rollback()
                    if row is None or row.state != "running" or row.worker != self.owner:
                        self.scope.stop("lost")
                        return
                    if row.cancel_requested:
                        self.scope.stop("cancel")
                        return
                    now = time.monotonic()
                    if self.timeout_s and now - start > self.timeout_s:
                        self.scope.stop("timeout")
                        return
                    if now - last >= self.interval_s:
                        s.execute(update(Job).where(Job.id == self.job_id, Job.worker == self.owner,
                                                    Job.state == "running").values(heartbeat_at=utcnow()))
                        s.commit()
                        last = now
                except Exception:  # noqa: BLE001 - a busy database must not kill the heartbeat
                    s.rollback()
                    log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)


@dataclass
class Running:
    """A job being executed by this process: `stop(reason)` ends its programs and the handler."""

    job_id: int
    scope: tools.Scope
    started: float = field(default_factory=time.monotonic)

    def stop(self, reason: str) -> None:
        self.scope.stop(reason)


def execute(session: Session, job: Job, owner: str, resource: Callable[[str], Any], *,
            heartbeat_s: float = 5.0, on_start: Callable[[Running], None] | None = None) -> str:
    """Run a claimed job to its end and record how it ended; returns the job's state afterwards."""
    h = _HANDLERS.get(job.kind)
    scope = tools.Scope(nice=10 if job.rank >= RANK_PRIORITY else 0)
    if on_start is not None:
        on_start(Running(job.id, scope))
    try:
        timeout = job.timeout_s or (h.timeout(session, job) if h and h.timeout else DEFAULT_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - the handler will report the real problem
        timeout = DEFAULT_TIMEOUT_S
    watch = _Watch(session.get_bind(), job.id, owner, scope, timeout, heartbeat_s)
    watch.start()
    rendition_id = None
    try:
        if h is None:
            raise StudioError(N_("This studio cannot run jobs of kind %(kind)s."), kind=job.kind)
        with scope:
            rendition_id = h.fn(Context(session, job, scope), **{n: resource(n) for n in h.needs})
    except tools.Stopped as stop:
        session.rollback()
        return _stopped(session, job, owner, stop.reason, timeout)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job, none is lost
        session.rollback()
        return _failed(session, job, owner, exc)
    finally:
        watch.done.set()
        watch.join(timeout=5)
    if not _finish(session, job, owner, state="succeeded", progress=100, finished_at=utcnow(),
                   rendition_id=rendition_id, line="done (reused)" if job.cached else "done"):
        return "lost"
    resolve_waiting(session)
    session.commit()
    return "succeeded"


def _finish(session: Session, job: Job, owner: str, line: str, **values) -> bool:
    """Write the job's end, only if this worker still owns it; False if it was taken away meanwhile."""
    session.refresh(job)
    if job.state != "running" or job.worker != owner:
        session.rollback()
        log.warning("job %s was taken from %s meanwhile; its outcome is not recorded", job.id, owner)
        return False
    for key, value in values.items():
        setattr(job, key, value)
    add_log(job, line)
    session.commit()
    return True


def _stopped(session: Session, job: Job, owner: str, reason: str, timeout: float) -> str:
    if reason == "lost":
        return "lost"
    if reason == "shutdown":  # not the job's fault: back to the queue, the attempt does not count
        _finish(session, job, owner, "worker shutting down: back in the queue", state="queued",
                attempts=max(0, job.attempts - 1), worker="", progress=0)
        return "queued"
    if reason == "timeout":
        err = _error_values("timeout", N_("The job took longer than its limit of %(minutes)s minutes and was "
                                          "stopped."), minutes=max(1, round(timeout / 60)))
        ok = _finish(session, job, owner, f"stopped after {timeout:.0f} s", state="failed", finished_at=utcnow(),
                     **err)
    else:
        ok = _finish(session, job, owner, "cancelled", state="cancelled", finished_at=utcnow())
    if ok:
        resolve_waiting(session)
        session.commit()
    return job.state


# ---- failures -------------------------------------------------------------------------------------------

def _classify(exc: Exception) -> tuple[str, str, dict, bool]:
    """(code, message template, params, transient) for an exception."""
    from media_pipeline.asr import ModelMissing
    from media_pipeline.profiles import ProfileInvalid
    from media_pipeline.publication import PublicationError
    from media_pipeline.tts import NoVoice
    from media_pipeline.validate import RenditionInvalid
    if isinstance(exc, StudioError):
        params = {k: v if isinstance(v, (int, float)) else str(v) for k, v in exc.params.items()}
        return exc.code, exc.message, params, False
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


def _error_values(code: str, message: str, **params) -> dict:
    """The job columns that record a failure."""
    return {"error_code": code, "error_message": message, "error_params": params,
            "error": message % params if params else message}


def _record_error(job: Job, code: str, message: str, **params) -> None:
    for key, value in _error_values(code, message, **params).items():
        setattr(job, key, value)


def _failed(session: Session, job: Job, owner: str, exc: Exception) -> str:
    code, message, params, transient = _classify(exc)
    log.warning("job %s (%s) failed, attempt %s: %s", job.id, job.kind, job.attempts, exc,
                exc_info=code == "internal")
    err = _error_values(code, message, **params)
    session.refresh(job)
    if transient and job.attempts < job.max_attempts:
        delay = BACKOFF_S[min(job.attempts - 1, len(BACKOFF_S) - 1)]
        if _finish(session, job, owner, f"error ({code}); retrying in {delay} s", state="queued", worker="",
                   run_after=utcnow() + timedelta(seconds=delay), **err):
            return "queued"
        return "lost"
    if _finish(session, job, owner, f"error ({code})", state="failed", finished_at=utcnow(), **err):
        resolve_waiting(session)
        session.commit()
    return "failed"


def error_text(job: Job, gettext: Callable[..., str]) -> str:
    """The job's failure in the reader's language (gettext from the web layer)."""
    if job.error_message:
        return gettext(job.error_message, **(job.error_params or {}))
    return job.error


# ---- dependencies, sweeping, shutdown ---------------------------------------------------------------------

def resolve_waiting(session: Session) -> list[int]:
    """Release waiting jobs whose dependencies all succeeded; fail those with a dependency that did not."""
    released = []
    waiting = list(session.scalars(select(Job).where(Job.state == "waiting")))
    for job in waiting:
        deps = {j.id: j.state for j in session.scalars(select(Job).where(Job.id.in_(job.depends_on or [])))}
        if job.wait_for == "end":
            bad = []
            done = all(deps.get(i, "failed") in FINAL for i in job.depends_on)
        else:
            bad = [i for i in job.depends_on if deps.get(i) in ("failed", "cancelled") or i not in deps]
            done = all(deps.get(i) == "succeeded" for i in job.depends_on)
        if bad:
            job.state, job.finished_at = "failed", utcnow()
            _record_error(job, "dependency_failed", N_("Job %(job)s, which this one waited for, did not "
                                                       "succeed."), job=bad[0])
            add_log(job, f"job {bad[0]} did not succeed")
        elif done:
            job.state = "queued"
            add_log(job, "everything it waited for is done: queued")
            _mark_runnable(session, job.rank)
            released.append(job.id)
    return released


def sweep(session: Session, stale_after_s: float) -> list[int]:
    """Take back running jobs with no heartbeat for `stale_after_s` (their worker died); release stranded waits."""
    limit = utcnow() - timedelta(seconds=stale_after_s)
    ids = []
    for job in session.scalars(select(Job).where(Job.state == "running", Job.heartbeat_at < limit)):
        note = f"worker {job.worker or '?'} stopped responding"
        add_log(job, note)
        job.worker = ""
        if job.attempts < job.max_attempts:
            job.state = "queued"
            _mark_runnable(session, job.rank)
            ids.append(job.id)
        else:
            job.state, job.finished_at = "failed", utcnow()
            _record_error(job, "worker_lost", N_("The worker running this job stopped responding."))
    session.flush()
    ids += resolve_waiting(session)
    session.commit()
    return ids


def run_here(session: Session, job_id: int, resource: Callable[[str], Any], owner: str = "",
             wait: Callable[[float], None] = time.sleep) -> str:
    """Be the worker for one job in this thread (the CLI): claim, run, and retry after the backoff."""
    owner = owner or new_owner()
    while True:
        job = claim(session, job_id, owner)
        if job is None:
            job = session.get(Job, job_id)
            session.refresh(job)
            if job.state == "queued" and job.run_after:
                wait(max(0.0, (job.run_after - utcnow()).total_seconds()))
                continue
            return job.state
        state = execute(session, job, owner, resource)
        if state != "queued":
            return state


# ---- what people do with jobs -----------------------------------------------------------------------------

def get_job(session: Session, job_id: int) -> Job:
    """A job by id, or NotFound."""
    return fetch(session, Job, job_id, N_("Job %(id)s does not exist."))


def cancel(session: Session, caller: Caller, job_id: int) -> Job:
    """Stop a job: a queued or waiting one at once, a running one within seconds (its programs are killed)."""
    require_role(caller, "editor", "approver")
    job = get_job(session, job_id)
    if job.state in ("queued", "waiting"):
        job.state, job.finished_at = "cancelled", utcnow()
        add_log(job, "cancelled")
        resolve_waiting(session)
    elif job.state == "running":
        job.cancel_requested = True
    else:
        raise Conflict(N_("The job has already ended (%(state)s)."), state=job.state)
    audit.record(session, caller, "job.cancel", "job", job.id, work_id=job.work_id)
    return job


def retry(session: Session, caller: Caller, job_id: int) -> Job:
    """Put a failed or cancelled job back in the queue with fresh attempts."""
    require_role(caller, "editor", "approver")
    job = get_job(session, job_id)
    if job.state not in ("failed", "cancelled"):
        raise Conflict(N_("Only failed or cancelled jobs can be retried."))
    job.state, job.attempts, job.cancel_requested, job.progress, job.run_after = "queued", 0, False, 0, None
    _record_error(job, "", "")
    add_log(job, "retry requested")
    _mark_runnable(session, job.rank)
    audit.record(session, caller, "job.retry", "job", job.id, work_id=job.work_id)
    return job


def requeue_running(session: Session, owners: list[str]) -> list[int]:
    """Put this process's running jobs back in the queue (shutdown after their programs were stopped)."""
    ids = []
    for job in session.scalars(select(Job).where(Job.state == "running", Job.worker.in_(owners))):
        job.state, job.worker, job.progress = "queued", "", 0
        job.attempts = max(0, job.attempts - 1)
        add_log(job, "worker shutting down: back in the queue")
        ids.append(job.id)
    session.commit()
    return ids
