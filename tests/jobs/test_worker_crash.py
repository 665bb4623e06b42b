"""A worker killed in the middle of a job: the job is taken back and completes on the next worker."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests import processes
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Job, Rendition, User, Work
from tests.helpers import ROOT
from tests.jobs.test_jobs import processes_with, wait_for

pytestmark = pytest.mark.slow


def start_worker(env):
    return subprocess.Popen([sys.executable, "-m", "studio.cli", "worker", "--workers", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_worker_job_completes_on_retry(tmp_path, store_url):
    from flask_migrate import upgrade

    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, rendering, works
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "instance"), "STUDIO_S3_URL": store_url,
                "STUDIO_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}", "STUDIO_JOB_STALE_SECONDS": "3",
                "STUDIO_JOB_HEARTBEAT_SECONDS": "0.5",
                "STUDIO_TTS_ENGINES": "espeak", "STUDIO_WHISPER_MODEL": ""})  # recovery, not the speech check
    app = create_app({"S3_URL": store_url, "QUEUE_URL": env["STUDIO_QUEUE_URL"],
                      "JOB_STALE_SECONDS": 3}, environ=env)
    body = " ".join(f"Thông báo số {i}: người dân chú ý theo dõi bản tin thời tiết." for i in range(60))
    with app.app_context():
        upgrade()
        user = accounts.create_user(db.session, Caller(None), "editor", "long password!", ["editor"], system=True)
        work = works.create(db.session, Caller(user), {"title": "Bản tin dài", "body": body})
        db.session.commit()
        job_id = rendering.queue(db.session, Caller(db.session.get(User, user.id)), db.session.get(Work, work.id), ["eboard"])[0].id
        db.session.commit()
        engine = db.engine
    check = Session(engine)

    def job() -> Job:
        check.expire_all()
        return check.get(Job, job_id)

    first = start_worker(env)
    try:
        wait_for(lambda: job().state == "running" and job().progress >= 76, what="the video encode to start")
        encoder = processes_with(str(tmp_path / "instance" / "tmp"))
        assert encoder, "ffmpeg should be encoding in the job's folder"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        processes.stop(first, 0, signal.SIGKILL)
    # The worker's ffmpeg dies with it (it would otherwise encode for a minute more, an orphan).
    wait_for(lambda: not processes_with(str(tmp_path / "instance" / "tmp")), timeout=5, what="ffmpeg to die")
    died = job()
    assert died.state == "running" and died.attempts == 1 and died.progress < 100
    time.sleep(3.5)  # no heartbeat for longer than STUDIO_JOB_STALE_SECONDS
    second = start_worker(env)
    try:
        done = wait_for(lambda: job().state in ("succeeded", "failed") and job(), timeout=600,
                        what="the job to finish")
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            out = second.communicate(timeout=30)[0]
        finally:
            processes.stop(second, 0)
    assert "Re-queued jobs left by a stopped worker" in out
    assert done.state == "succeeded", done.error
    assert done.attempts == 2
    assert any("stopped responding" in line["msg"] for line in done.log)
    renditions = check.scalars(select(Rendition).where(Rendition.work_id == done.work_id)).all()
    assert len(renditions) == 1  # idempotent: one rendition, no duplicates
    check.close()
