"""Running jobs: `execute` runs one claimed job to its recorded end under a heartbeat; `Loop` is the one run
loop (claim, execute, again) that the worker pool's threads, the in-memory queue of the tests and
`studio render` all use. They differ only in what they claim and what they do when nothing is due."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from media_pipeline import tools
from storage.models import Job, utcnow
from studio.errors import N_, StudioError
from studio.jobs.failures import classify, error_values
from studio.jobs.queue import FINAL, RANK_PRIORITY, claim_next, new_owner, resolve_waiting, with_dependencies
from studio.jobs.registry import Context, add_log, handlers

log = logging.getLogger(__name__)

BACKOFF_S = (10, 60, 300)
DEFAULT_TIMEOUT_S = 3600


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
    owner: str = ""
    started: float = field(default_factory=time.monotonic)

    def stop(self, reason: str) -> None:
        self.scope.stop(reason)


def execute(session: Session, job: Job, owner: str, resource: Callable[[str], Any], *,
            heartbeat_s: float = 5.0, on_start: Callable[[Running], None] | None = None) -> str:
    """Run a claimed job to its end and record how it ended; returns the job's state afterwards."""
    h = handlers().get(job.kind)
    scope = tools.Scope(nice=10 if job.rank >= RANK_PRIORITY else 0)
    if on_start is not None:
        on_start(Running(job.id, scope, owner))
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
        err = error_values("timeout", N_("The job took longer than its limit of %(minutes)s minutes and was "
                                         "stopped."), minutes=max(1, round(timeout / 60)))
        ok = _finish(session, job, owner, f"stopped after {timeout:.0f} s", state="failed", finished_at=utcnow(),
                     **err)
    else:
        ok = _finish(session, job, owner, "cancelled", state="cancelled", finished_at=utcnow())
    if ok:
        resolve_waiting(session)
        session.commit()
    return job.state


def _failed(session: Session, job: Job, owner: str, exc: Exception) -> str:
    code, message, params, transient = classify(exc)
    log.warning("job %s (%s) failed, attempt %s: %s", job.id, job.kind, job.attempts, exc,
                exc_info=code == "internal")
    err = error_values(code, message, **params)
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


@dataclass
class Loop:
    """The one run loop: claim the next due job (in lane order, up to `max_rank`, among `among` if given),
    execute it, again; when nothing is due, `idle()` waits and says whether to go on. `tick` runs before
    each claim (the pool's watchdog beat), `on_start(job, running)` and `on_end(job, state)` around each job.
    """

    session: Session
    resource: Callable[[str], Any]
    heartbeat_s: float = 5.0
    max_rank: int | None = None
    among: set[int] | None = None
    idle: Callable[[], bool] = lambda: False
    stopping: Callable[[], bool] = lambda: False
    tick: Callable[[], None] = lambda: None
    on_start: Callable[[Job, Running], None] | None = None
    on_end: Callable[[Job, str], None] | None = None

    def run(self) -> None:
        while not self.stopping():
            self.tick()
            if not self.once() and not self.idle():
                return

    def once(self) -> bool:
        """Claim and run one job; False when none was due."""
        owner = new_owner()
        try:
            job = claim_next(self.session, owner, self.max_rank, self.among)
        except Exception:  # noqa: BLE001 - the database may be briefly unavailable
            log.exception("claiming a job failed")
            self.session.rollback()
            return False
        if job is None:
            return False
        log.info("job %s (%s %s %s) started by %s", job.id, job.kind, job.profile, job.language, owner)
        start = (lambda run: self.on_start(job, run)) if self.on_start else None
        try:
            state = execute(self.session, job, owner, self.resource, heartbeat_s=self.heartbeat_s,
                            on_start=start)
            log.info("job %s: %s", job.id, state)
        except Exception:  # noqa: BLE001 - recording the outcome failed; the sweeper takes it back
            log.exception("job %s could not be recorded", job.id)
            self.session.rollback()
            state = "lost"
        if self.on_end is not None:
            self.on_end(job, state)
        return True


def run_here(session: Session, job_ids: list[int], resource: Callable[[str], Any], *, heartbeat_s: float = 5.0,
             on_start: Callable[[Job, Running], None] | None = None,
             on_end: Callable[[Job, str], None] | None = None,
             wait: Callable[[float], None] = time.sleep) -> list[str]:
    """Be the worker for these jobs and every job they wait for, in this thread (`studio render`), until all
    have ended; a job waiting for a retry's backoff is waited for. Returns the jobs' states in order."""
    among = with_dependencies(session, job_ids)

    def idle() -> bool:
        rows = session.execute(select(Job.state, Job.run_after).where(Job.id.in_(among))).all()
        if all(state in FINAL for state, _ in rows):
            session.rollback()
            return False
        resolve_waiting(session)  # their dependencies may have ended in another process
        session.commit()
        due = [(run_after - utcnow()).total_seconds() for state, run_after in rows
               if state == "queued" and run_after is not None]
        wait(max(0.0, min(due)) if due else 0.2)
        return True

    Loop(session, resource, heartbeat_s=heartbeat_s, among=among, idle=idle, on_start=on_start,
         on_end=on_end).run()
    return [session.get(Job, i).state for i in job_ids]
