"""Several workers share one Redis queue (STUDIO_QUEUE_URL=redis://...): a real redis-server on loopback."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests import processes
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Job, User, Work
from tests.helpers import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_url(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run scripts/install-system-deps.sh --test (./dev test does)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    processes.stop(proc, 10)


def test_two_workers_share_a_redis_queue(tmp_path, store_url, redis_url, model_cache):
    from flask_migrate import upgrade

    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, rendering, works
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "instance"), "STUDIO_S3_URL": store_url,
                "STUDIO_QUEUE_URL": redis_url, "STUDIO_TTS_ENGINES": "espeak", "STUDIO_WHISPER_MODEL": ""})
    app = create_app({"S3_URL": store_url, "QUEUE_URL": redis_url}, environ=env)
    with app.app_context():
        upgrade()
        health = app.test_client().get("/healthz").get_json()
        assert health["queue"] == "ok"
        # Committing a job wakes workers in other processes at once over Redis (they also poll the database).
        import redis
        listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
        listener.subscribe("studio:jobs:wake")
        user = accounts.create_user(db.session, Caller(None), "editor", "long password!", ["editor"], system=True)
        wid = works.create(db.session, Caller(user), {"title": "Bản tin", "body": "Xin chào bà con."}).id
        db.session.commit()
        jobs = rendering.queue(db.session, Caller(db.session.get(User, user.id)), db.session.get(Work, wid),
                               ["loudspeaker", "eboard", "web"])
        db.session.commit()
        ids = [j.id for j in jobs]
        engine = db.engine
        deadline, message = time.monotonic() + 10, None
        while message is None and time.monotonic() < deadline:
            message = listener.get_message(timeout=1)  # None for the subscription's own confirmation
        assert message is not None and message["data"] == b"3"  # the normal lane's rank
        listener.close()
    workers = [subprocess.Popen([sys.executable, "-m", "studio.cli", "worker", "--workers", "1"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    check = Session(engine)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            check.expire_all()
            states = [j.state for j in check.scalars(select(Job).where(Job.id.in_(ids)))]
            if all(s in ("succeeded", "failed") for s in states):
                break
            time.sleep(0.5)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            processes.stop(w, 30)
    done = check.scalars(select(Job).where(Job.id.in_(ids))).all()
    assert [j.state for j in done] == ["succeeded"] * len(ids), [j.error for j in done]
    pids = {w.pid for w in workers}
    ran_on = {int(j.worker.split(":")[1]) for j in done}
    assert ran_on <= pids  # run by the worker processes, not by this one
    check.close()
