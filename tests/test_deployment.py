"""docs/DEPLOYMENT.md on loopback: nginx (Debian's, with docs/deploy/nginx-studio.conf) in front of a staff
process and an endpoint process (`studio serve --only staff|endpoints`) and a standalone `studio worker`, on a
real PostgreSQL and Redis and the run's SeaweedFS. Staff work and publish through nginx; an endpoint syncs
through it; each side refuses the other's requests when reached directly."""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from endpoint_client import SyncClient
from tests import processes
from tests.services.test_postgresql import postgres_url  # noqa: F401 - the fixture
from tests.jobs.test_redis_queue import redis_url  # noqa: F401 - the fixture
from tests.test_cli import ROOT, free_port, start_serve, stop

pytestmark = pytest.mark.slow
NGINX_SITE = ROOT / "docs" / "deploy" / "nginx-studio.conf"


def _wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30  # only keeps a broken start from hanging the run
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {port}")


def start_nginx(tmp: Path, port: int, staff: int, endpoints: int) -> subprocess.Popen:
    """Debian's nginx with the shipped site file, its addresses and ports rewritten for this run only."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if binary is None:
        pytest.fail("nginx is not installed: run scripts/install-system-deps.sh --test (./dev test does)")
    site = NGINX_SITE.read_text()
    for old, new in (("127.0.0.1:5000", f"127.0.0.1:{staff}"), ("127.0.0.1:5001", f"127.0.0.1:{endpoints}"),
                     ("listen 80;", f"listen 127.0.0.1:{port};")):
        assert old in site, old
        site = site.replace(old, new)
    (tmp / "site.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; "
        f"fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi; "
        f"include {tmp}/site.conf; }}\n")
    check = subprocess.run([binary, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf")], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, proc, "nginx")
    return proc


def seed(env: dict) -> dict:
    """Migrate the database; an editor, an approver, their tokens and a loudspeaker (as an admin would)."""
    from flask_migrate import upgrade

    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, endpoints
    app = create_app({"QUEUE_URL": "", "S3_URL": env["STUDIO_S3_URL"]}, environ=env)
    with app.app_context():
        upgrade()
        s = db.session
        ed = accounts.create_user(s, Caller(None), "bientap", "deployment password", ["editor"], system=True)
        ap = accounts.create_user(s, Caller(None), "duyet", "deployment password", ["approver", "admin"],
                                  system=True)
        s.commit()
        out = {"editor": accounts.create_token(s, Caller(ed), "t")[1],
               "approver": accounts.create_token(s, Caller(ap), "t")[1]}
        out["loudspeaker"] = endpoints.create(s, Caller(ap), {"name": "Loa xã", "kind": "loudspeaker",
                                                              "languages": "vi"})[1]
        s.commit()
        db.session.remove()
        db.engine.dispose()
    return out


def test_staff_and_endpoint_processes_behind_nginx_on_postgresql_and_redis(tmp_path, postgres_url, redis_url,
                                                                           store_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "instance"), "STUDIO_DATABASE_URL": postgres_url,
                "STUDIO_QUEUE_URL": redis_url, "STUDIO_S3_URL": store_url, "STUDIO_TTS_ENGINES": "espeak",
                "STUDIO_WHISPER_MODEL": "", "STUDIO_TRUSTED_PROXIES": "1"})
    tokens = seed(env)
    extra = {k: v for k, v in env.items() if k.startswith("STUDIO_") and k != "STUDIO_INSTANCE"}
    staff_port, endpoint_port, nginx_port = free_port(), free_port(), free_port()
    started, worker, nginx = [], None, None
    try:
        staff, _ = start_serve(tmp_path / "instance", staff_port, extra, ("--only", "staff", "--no-worker"))
        started.append(staff)
        side, _ = start_serve(tmp_path / "instance", endpoint_port, extra, ("--only", "endpoints", "--no-worker"))
        started.append(side)
        worker = subprocess.Popen([sys.executable, "-m", "studio.cli", "worker", "--workers", "1"], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nginx = start_nginx(tmp_path, nginx_port, staff_port, endpoint_port)
        base = f"http://127.0.0.1:{nginx_port}"

        def api(token, method, path, body=None):
            r = requests.request(method, base + path, json=body, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})
            assert r.status_code < 300, (path, r.status_code, r.text)
            return r.json()
        health = requests.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 200 and health.json()["database"] == "ok" and health.json()["queue"] == "ok"
        work = api(tokens["editor"], "POST", "/api/v1/works",
                   {"title": "Lịch tiêm chủng", "body": "Xã tổ chức tiêm chủng cho trẻ em vào sáng thứ bảy.",
                    "channels": ["loudspeaker"]})
        api(tokens["editor"], "POST", f"/api/v1/works/{work['id']}/transitions", {"action": "submit"})
        api(tokens["approver"], "POST", f"/api/v1/works/{work['id']}/transitions", {"action": "approve"})
        api(tokens["approver"], "POST", f"/api/v1/works/{work['id']}/transitions", {"action": "publish"})
        client = SyncClient(base, tokens["loudspeaker"], tmp_path / "box")
        deadline = time.monotonic() + 300  # only keeps a broken run from hanging
        result = client.sync()
        while not result.holds and time.monotonic() < deadline:
            result = client.sync(wait=30)  # through nginx: the long poll of the endpoint side
        assert result.holds, "the published bulletin never reached the loudspeaker"
        for sha in result.downloaded:
            assert hashlib.sha256(client.media_path(sha).read_bytes()).hexdigest() == sha
        client.record_play(result.holds[0], result.downloaded[0], "2026-12-03T07:00:00Z", "2026-12-03T07:01:00Z")
        assert client.sync().holds == result.holds  # the report went through nginx to the endpoint side
        # Each side refuses the other's requests when reached without nginx.
        auth = {"Authorization": f"Bearer {tokens['loudspeaker']}"}
        assert requests.get(f"http://127.0.0.1:{staff_port}/api/v1/feed", headers=auth,
                            timeout=30).status_code == 404
        assert requests.get(f"http://127.0.0.1:{endpoint_port}/api/v1/works",
                            headers={"Authorization": f"Bearer {tokens['editor']}"}, timeout=30).status_code == 404
        assert requests.get(f"http://127.0.0.1:{endpoint_port}/api/v1/feed", headers=auth,
                            timeout=30).status_code == 200
        jobs = api(tokens["editor"], "GET", f"/api/v1/works/{work['id']}/jobs")["items"]
        assert {j["kind"] for j in jobs} >= {"render", "publish"}
        assert all(j["state"] == "succeeded" for j in jobs if j["kind"] in ("render", "publish")), jobs
    finally:
        for proc in reversed(started):
            stop(proc)
        for proc in (worker, nginx):
            if proc is not None:
                processes.stop(proc, 30)
    assert all(p.returncode == 0 for p in started)
