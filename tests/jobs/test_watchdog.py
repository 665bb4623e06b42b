"""The watchdog: every worker thread and the event loop beat; /healthz names a part that stopped, answering
from the event loop in bounded time even while a component hangs; under systemd, `studio serve` says READY=1
and pings WATCHDOG=1 on the socket named by $NOTIFY_SOCKET. Real worker threads, a real server over HTTP."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import requests

from storage.models import Job
from studio import jobs
from studio.watchdog import Watchdog
from tests import processes
from tests.jobs.test_jobs import pool_app, wait_for  # noqa: F401 - the fixture

RELEASE = threading.Event()


@jobs.handler("test_silent")
def _run_silent(ctx: jobs.Context) -> None:
    """A job that goes quiet: no progress, no program, until the test releases it."""
    RELEASE.wait(120)


def test_watchdog_names_parts_silent_past_their_limit():
    now = [100.0]
    dog = Watchdog(clock=lambda: now[0])
    dog.register("jobs-worker-0", 30)
    dog.register("event-loop", 10)
    now[0] += 11
    assert dog.stalled() == {"event-loop": 11.0}
    dog.beat("event-loop")
    dog.beat("jobs-worker-0", limit_s=5)  # entering a job may change the limit
    now[0] += 6
    assert dog.stalled() == {"jobs-worker-0": 6.0}
    dog.unregister("jobs-worker-0")
    assert dog.stalled() == {}


def test_healthz_names_a_worker_that_stops_beating(pool_app):
    from studio.extensions import db
    from studio.web.serving import serve_in_thread
    pool_app.config["WATCHDOG_JOB_SILENCE_SECONDS"] = 1.0
    RELEASE.clear()
    pool = pool_app.start_pool(workers=1, reserved=0)
    url, server, thread = serve_in_thread(pool_app, threads=2)
    try:
        assert requests.get(f"{url}/healthz", timeout=30).status_code == 200
        with pool_app.app_context():
            job = jobs.create(db.session, "test_silent", profile="x")
            db.session.commit()
            job_id = job.id
        body = wait_for(lambda: (r := requests.get(f"{url}/healthz", timeout=30)).status_code == 503 and r.json(),
                        timeout=60, what="/healthz to report the silent worker")
        # Silent for longer than its 1 s limit; /healthz rounds to tenths, so 1.04 s reads 1.0.
        assert list(body["stalled"]) == ["jobs-worker-0"] and body["stalled"]["jobs-worker-0"] >= 1.0
        assert body["status"] == "degraded" and body["database"] == "ok"
        assert "event-loop" not in body["stalled"] and "jobs-sweeper" not in body["stalled"]
        RELEASE.set()
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=30).status_code == 200, timeout=60,
                 what="/healthz to recover once the job ended")
        with pool_app.app_context():
            assert db.session.get(Job, job_id).state == "succeeded"
    finally:
        RELEASE.set()
        server.stop()
        thread.join(timeout=15)
        pool.stop()


def test_healthz_answers_in_bounded_time_while_a_component_hangs(app, users):
    """A database that does not answer is named down after the check's bound; the answer still comes, and
    a second request while the first check still hangs does not start another."""
    from studio.web import serving
    from studio.web.serving import serve_in_thread
    hang = threading.Event()
    calls = []

    def database():
        calls.append(1)
        hang.wait(60)
    url, server, thread = serve_in_thread(app, threads=2)
    server.asgi.health.checks["database"] = database
    try:
        for _ in range(2):  # the answer comes (the check hangs for 60 s) and says it gave up at the bound
            r = requests.get(f"{url}/healthz", timeout=30)
            assert r.status_code == 503
            assert r.json()["database"] == f"down: no answer within {serving.HEALTH_CHECK_S:g} s"
            assert r.json()["storage"] == "ok"
        assert len(calls) == 1
    finally:
        hang.set()
        server.stop()
        thread.join(timeout=15)


def test_serve_tells_systemd_ready_and_pings_its_watchdog(tmp_path, store_url):
    from tests.test_cli import ROOT, free_port
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(60)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "instance"), "STUDIO_S3_URL": store_url,
                "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})  # WatchdogSec=1: a ping every 0.5 s
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--port", str(free_port())], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        messages = []
        while len([m for m in messages if m == "WATCHDOG=1"]) < 3:
            messages.append(sock.recv(4096).decode())
        assert messages[0] == "READY=1" and messages[1:4] == ["WATCHDOG=1"] * 3
        processes.stop(proc, 30)
        sock.settimeout(0.1)
        tail = []
        try:
            while True:
                tail.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        assert "STOPPING=1" in tail
    finally:
        processes.stop(proc, 0)
        sock.close()
    assert proc.returncode == 0
