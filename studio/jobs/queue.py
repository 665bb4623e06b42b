"""The queue is the jobs table: creating jobs, lanes, claiming, dependencies, sweeping, and what people do
with jobs (cancel, retry). Workers hear of new jobs through the notifier the wiring installs; the session
hooks that call it are installed by `install_hooks` (studio/jobs/worker.py `init_app`)."""
from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Callable

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from storage.models import JOB_FINAL, Job, utcnow
from studio.errors import N_, Conflict
from studio.jobs.failures import record_error
from studio.jobs.registry import _entry, add_log
from studio.services import Caller, audit, fetch
from studio.services.accounts import require_role

log = logging.getLogger(__name__)

RANK_EMERGENCY, RANK_DELIVERY, RANK_PRIORITY, RANK_NORMAL = 0, 1, 2, 3
URGENT_MAX_RANK = RANK_DELIVERY    # what reserved workers take
DELIVERY_KINDS = ("publish", "feeds")
FINAL = JOB_FINAL
_PENDING = "studio.jobs.pending"


def rank_for(kind: str, priority: str) -> int:
    """The lane a job claims in."""
    if priority == "emergency":
        return RANK_EMERGENCY
    if kind in DELIVERY_KINDS:
        return RANK_DELIVERY
    return RANK_PRIORITY if priority == "priority" else RANK_NORMAL


# ---- creation and notification ----------------------------------------------------------------------------

_notifiers: list[Callable[[set[int]], None]] = []


def set_notifier(fn: Callable[[set[int]], None] | None) -> None:
    """Install the process's notifier (called after a commit that created runnable jobs, with their ranks)."""
    _notifiers.clear()
    if fn is not None:
        _notifiers.append(fn)


def _after_commit(session: Session) -> None:
    ranks = session.info.pop(_PENDING, None)
    if ranks:
        for fn in list(_notifiers):
            try:
                fn(ranks)
            except Exception:  # noqa: BLE001 - workers poll as well; a lost notice only delays
                log.exception("job notifier failed")


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install_hooks() -> None:
    """Listen to every session's commits and rollbacks, so that committed runnable jobs reach the notifier
    (idempotent)."""
    for name, fn in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


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


# ---- claiming ---------------------------------------------------------------------------------------------

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


def claim_next(session: Session, owner: str, max_rank: int | None = None,
               among: set[int] | None = None) -> Job | None:
    """The next due job in lane order (emergency first), claimed; None when there is none. `among` limits
    the choice to those job ids (`studio render`)."""
    q = select(Job.id).where(Job.state == "queued", or_(Job.run_after.is_(None), Job.run_after <= utcnow()))
    if max_rank is not None:
        q = q.where(Job.rank <= max_rank)
    if among is not None:
        q = q.where(Job.id.in_(among))
    ids = list(session.scalars(q.order_by(Job.rank, Job.id).limit(8)))
    session.rollback()  # end the read before the conditional update
    for job_id in ids:
        job = claim(session, job_id, owner)
        if job is not None:
            return job
    return None


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
            record_error(job, "dependency_failed", N_("Job %(job)s, which this one waited for, did not "
                                                      "succeed."), job=bad[0])
            add_log(job, f"job {bad[0]} did not succeed")
        elif done:
            job.state = "queued"
            add_log(job, "everything it waited for is done: queued")
            _mark_runnable(session, job.rank)
            released.append(job.id)
    return released


def with_dependencies(session: Session, job_ids: list[int]) -> set[int]:
    """The jobs and every job they wait for, however far down."""
    found, todo = set(), list(job_ids)
    while todo:
        job_id = todo.pop()
        if job_id not in found:
            found.add(job_id)
            job = session.get(Job, job_id)
            todo += list(job.depends_on or []) if job is not None else []
    return found


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
            record_error(job, "worker_lost", N_("The worker running this job stopped responding."))
    session.flush()
    ids += resolve_waiting(session)
    session.commit()
    return ids


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
    record_error(job, "", "")
    add_log(job, "retry requested")
    _mark_runnable(session, job.rank)
    audit.record(session, caller, "job.retry", "job", job.id, work_id=job.work_id)
    return job


def for_work(session: Session, work_id: int, limit: int = 40, kind: str | None = None,
             language: str | None = None) -> list[Job]:
    """A work's jobs, newest first (of one kind and language when named)."""
    q = select(Job).where(Job.work_id == work_id)
    if kind:
        q = q.where(Job.kind == kind)
    if language:
        q = q.where(Job.language == language)
    return list(session.scalars(q.order_by(Job.id.desc()).limit(limit)))
