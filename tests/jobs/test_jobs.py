"""The job system: lanes, heartbeats independent of progress, cancel and timeouts that kill the running
program, stranded jobs taken back. Real ffmpeg processes, real worker threads, the app's SQLite database."""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from media_pipeline import tools
from storage.models import Job, User
from studio import jobs

RUNS: list[int] = []


@jobs.handler("test_ffmpeg")
def _run_test_ffmpeg(ctx: jobs.Context) -> None:
    """A job that is one long ffmpeg call (real time, `-re`): `profile` is "<seconds>:<marker>"."""
    seconds, marker = ctx.job.profile.split(":")
    RUNS.append(ctx.job.id)
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"{marker}.wav"
    try:
        tools.run("ffmpeg", ["-v", "error", "-y", "-re", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono",
                             "-t", seconds, str(out)])
    finally:
        out.unlink(missing_ok=True)


def processes_with(marker: str) -> list[int]:
    """PIDs whose command line contains `marker` (read from /proc, as ps does)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def wait_for(predicate, timeout=120, what="condition"):
    """Poll until predicate() is truthy; the bound only keeps a broken run from hanging (not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pool_app(tmp_path, store_url, model_cache):
    """An app whose jobs go to a worker pool (database queue), with short heartbeat and stale times."""
    from flask_migrate import upgrade

    from studio import create_app
    app = create_app({"TESTING": True,
                      "S3_URL": store_url, "QUEUE_URL": "", "MODEL_CACHE": model_cache,
                      "JOB_HEARTBEAT_SECONDS": 0.5, "JOB_STALE_SECONDS": 2, "WHISPER_MODEL": ""},
                     environ={"STUDIO_INSTANCE": str(tmp_path / "instance")})
    with app.app_context():
        upgrade()
    pools = []

    def start(workers=1, reserved=1):
        from studio.jobs.worker import WorkerPool
        pool = WorkerPool(app, workers=workers, reserved=reserved, poll_s=0.2).start()
        pools.append(pool)
        return pool
    app.start_pool = start
    yield app
    for pool in pools:
        pool.stop()


def session_of(app) -> Session:
    from studio.extensions import db
    with app.app_context():
        return Session(db.engine)


def add_job(session: Session, kind="test_ffmpeg", priority="normal", seconds=1, **fields) -> Job:
    marker = "jobtest-" + uuid.uuid4().hex[:12]
    job = jobs.create(session, kind, priority=priority, profile=fields.pop("profile", f"{seconds}:{marker}"),
                      **fields)
    session.commit()
    job.marker = marker
    return job


def test_lanes_order_claims_and_reserved_workers_take_only_urgent_work(pool_app):
    s = session_of(pool_app)
    normal = add_job(s, "render", "normal").id
    prio = add_job(s, "render", "priority").id
    deliver = add_job(s, "publish", "normal").id
    emergency = add_job(s, "render", "emergency").id
    later = add_job(s, "render", "emergency").id
    assert jobs.claim_next(s, "reserved", max_rank=jobs.URGENT_MAX_RANK).id == emergency
    order = [jobs.claim_next(s, "any").id for _ in range(4)]
    assert order == [later, deliver, prio, normal]
    assert jobs.claim_next(s, "any") is None
    extra = add_job(s, "render", "normal").id
    assert jobs.claim_next(s, "reserved", max_rank=jobs.URGENT_MAX_RANK) is None  # kept free
    assert jobs.claim_next(s, "any").id == extra
    s.close()


def test_job_whose_single_ffmpeg_call_outlasts_the_stale_timeout_runs_once(pool_app):
    s = session_of(pool_app)
    job = add_job(s, seconds=6)  # one call three times longer than JOB_STALE_SECONDS, no progress reported
    pool_app.start_pool(workers=2, reserved=1)
    done = wait_for(lambda: (s.expire_all(), s.get(Job, job.id))[1].state in jobs.FINAL and s.get(Job, job.id),
                    what="the job to end")
    assert done.state == "succeeded", done.error
    assert done.attempts == 1
    assert RUNS.count(job.id) == 1
    assert not any("stopped responding" in line["msg"] for line in done.log)
    s.close()


def test_cancel_terminates_the_running_ffmpeg(pool_app):
    s = session_of(pool_app)
    job = add_job(s, seconds=120)
    pool_app.start_pool()
    wait_for(lambda: processes_with(job.marker), what="ffmpeg to start")
    from studio.extensions import db
    from studio.services import Caller, accounts
    with pool_app.app_context():
        uid = accounts.create_user(db.session, Caller(None, "test"), "editor", "long password!", ["editor"],
                                   system=True).id
        db.session.commit()
    editor = s.get(User, uid)
    asked = time.monotonic()
    jobs.cancel(s, Caller(editor), job.id)
    s.commit()
    wait_for(lambda: not processes_with(job.marker), what="ffmpeg to be stopped")
    stopped_after = time.monotonic() - asked
    done = wait_for(lambda: (s.expire_all(), s.get(Job, job.id))[1].state in jobs.FINAL and s.get(Job, job.id),
                    what="the job to end")
    assert done.state == "cancelled"
    assert stopped_after < 60  # ffmpeg would have run for 120 s: it was killed, not waited for
    s.close()


def test_timeout_stops_the_job_with_a_code(pool_app):
    s = session_of(pool_app)
    job = add_job(s, seconds=120, timeout_s=2)
    pool_app.start_pool()
    done = wait_for(lambda: (s.expire_all(), s.get(Job, job.id))[1].state in jobs.FINAL and s.get(Job, job.id),
                    what="the job to end")
    assert done.state == "failed" and done.error_code == "timeout"
    assert done.error_params == {"minutes": 1}
    assert not processes_with(job.marker)
    s.close()


def test_emergency_starts_while_every_general_worker_is_busy(pool_app):
    s = session_of(pool_app)
    long_ones = [add_job(s, seconds=60) for _ in range(2)]
    pool_app.start_pool(workers=2, reserved=1)
    wait_for(lambda: all(processes_with(j.marker) for j in long_ones), what="both long jobs to run")
    urgent = add_job(s, priority="emergency", seconds=1)
    done = wait_for(lambda: (s.expire_all(), s.get(Job, urgent.id))[1].state == "succeeded" and s.get(Job, urgent.id),
                    what="the emergency job")
    running = [s.get(Job, j.id).state for j in long_ones]
    assert running == ["running", "running"]  # it did not wait for them
    assert done.rank == jobs.RANK_EMERGENCY
    s.close()


def test_stranded_jobs_are_taken_back(pool_app):
    """A job committed without its notice (a crash between commit and notice) and a dependent job whose
    release was lost are both picked up."""
    s = session_of(pool_app)
    dep = add_job(s, seconds=1)
    dep.state = "succeeded"
    waiting = Job(kind="test_ffmpeg", profile=f"1:jobtest-{uuid.uuid4().hex[:8]}", state="waiting",
                  depends_on=[dep.id], rank=3, log=[])
    plain = Job(kind="test_ffmpeg", profile=f"1:jobtest-{uuid.uuid4().hex[:8]}", state="queued", rank=3, log=[])
    s.add_all([waiting, plain])
    s.commit()  # no notice: this session is outside any app
    pool_app.start_pool()
    for j in (waiting, plain):
        done = wait_for(lambda j=j: (s.expire_all(), s.get(Job, j.id))[1].state in jobs.FINAL and s.get(Job, j.id),
                        what=f"job {j.id}")
        assert done.state == "succeeded"
    s.close()


def test_a_dead_workers_job_is_taken_back_and_its_outcome_kept_by_the_new_owner(pool_app):
    s = session_of(pool_app)
    job = add_job(s, seconds=1)
    assert jobs.claim(s, job.id, "dead-worker") is not None  # claimed, then the worker vanished
    pool_app.start_pool()
    done = wait_for(lambda: (s.expire_all(), s.get(Job, job.id))[1].state in jobs.FINAL and s.get(Job, job.id),
                    what="the job to end")
    assert done.state == "succeeded" and done.attempts == 2
    assert any("dead-worker stopped responding" in line["msg"] for line in done.log)
    # The dead worker's late heartbeat or outcome is refused: it no longer owns the job.
    assert not jobs.runner._finish(s, done, "dead-worker", "late", state="failed")
    s.expire_all()
    assert s.get(Job, job.id).state == "succeeded"
    s.close()


def test_failure_is_stored_as_code_and_shown_in_the_readers_language(app, users, db_session):
    from flask_babel import force_locale, gettext

    from studio.errors import N_
    job = Job(kind="render", state="failed", rank=3, log=[])
    jobs.record_error(job, "timeout", N_("The job took longer than its limit of %(minutes)s minutes and was "
                                          "stopped."), minutes=7)
    assert job.error == "The job took longer than its limit of 7 minutes and was stopped."
    with app.test_request_context():
        with force_locale("vi"):
            vi = jobs.error_text(job, gettext)
        with force_locale("en"):
            en = jobs.error_text(job, gettext)
    assert en == job.error
    assert "7 phút" in vi and "limit" not in vi
