"""What the commands share: the migrated app with its object store, and running or awaiting jobs."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path


def prepare(app) -> str | None:
    """Apply migrations and create the first admin; returns a generated admin password to print once."""
    from flask_migrate import upgrade

    from studio.extensions import db
    from studio.services import accounts
    with app.app_context():
        upgrade()
        return accounts.ensure_admin(db.session, app.config["ADMIN_PASSWORD"] or None)


def open_object_store(cfg: dict, quiet: bool = False):
    """STUDIO_S3_URL if set; otherwise start the embedded SeaweedFS. Returns (app overrides, seaweed or None)."""
    if cfg["S3_URL"]:
        return {}, None
    from storage.errors import StorageUnavailable
    from storage.seaweed import EmbeddedSeaweed, running_url
    running = running_url(Path(cfg["INSTANCE"]) / "objectstore")
    if running:  # `studio serve` runs the instance's store: use it rather than start a second one
        return {"S3_URL": running}, None
    try:
        seaweed = EmbeddedSeaweed(Path(cfg["INSTANCE"]) / "objectstore", binary=cfg["WEED_BIN"]).start()
    except StorageUnavailable as exc:
        raise SystemExit(f"error: {exc}\nIf `studio serve` is running on this instance, stop it first, "
                         "or pass --queue to let its worker do the work.") from exc
    if not quiet:
        print(f"Object store: embedded SeaweedFS on {seaweed.endpoint} (data in {seaweed.root})", flush=True)
    return {"S3_URL": seaweed.url}, seaweed


@contextmanager
def running_studio(cfg: dict, with_store: bool = True, quiet: bool = False):
    """The app, migrated, with its object store (embedded SeaweedFS started and stopped here when needed).

    Yields (app, generated admin password or None).
    """
    from studio import create_app
    overrides, seaweed = open_object_store(cfg, quiet) if with_store else ({}, None)
    try:
        app = create_app(overrides or None)
        yield app, prepare(app)
    finally:
        if seaweed:
            seaweed.stop()


def run_jobs_here(app, job_ids: list[int], quiet: bool) -> list[str]:
    """Be the worker for these jobs (and what they wait for) in this process, printing progress."""
    from studio import jobs
    from studio.extensions import db
    from studio.jobs.worker import resources

    def started(job, _run) -> None:
        if not quiet:
            print(f"job {job.id}: {job.kind} {job.profile} [{job.language}] ...", flush=True)

    def ended(job, state: str) -> None:
        if not quiet and state != "queued":
            extra = " (reused)" if job.cached else (f": {job.error}" if job.error else "")
            print(f"job {job.id}: {state}{extra}", flush=True)

    with app.app_context():
        return jobs.run_here(db.session, job_ids, resources(app), on_start=started, on_end=ended,
                             heartbeat_s=app.config["JOB_HEARTBEAT_SECONDS"])


def wait_for_queue(app, job_ids: list[int]) -> list[str]:
    """Wait for another process's worker to finish the jobs, printing progress."""
    import time

    from storage.models import Job
    from studio.extensions import db
    seen: dict[int, tuple] = {}
    while True:
        with app.app_context():
            jobs = [db.session.get(Job, i) for i in job_ids]
            for j in jobs:
                now = (j.state, j.progress)
                if seen.get(j.id) != now:
                    seen[j.id] = now
                    print(f"job {j.id}: {j.profile} [{j.language}] {j.state} {j.progress}%"
                          + (f" {j.error}" if j.error else ""), flush=True)
            if all(j.state in ("succeeded", "failed", "cancelled") for j in jobs):
                return [j.state for j in jobs]
        time.sleep(1)


def cli_caller(username: str):
    """The caller a command acts as (`--user`, in the app context), or None after saying there is no such user."""
    from sqlalchemy import select

    from storage.models import User
    from studio.extensions import db
    from studio.services import Caller
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        print(f"error: no user {username!r} (use --user)", file=sys.stderr)
        return None
    return Caller(user, "cli")
