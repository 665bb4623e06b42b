"""`studio serve` as a newcomer runs it: embedded object store, worker, first admin, reuse on restart."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(instance: Path, port: int, env_extra: dict | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(instance), **(env_extra or {})})
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Studio running at" in line:
            return proc, "".join(lines)
    proc.kill()
    raise AssertionError("studio serve did not start:\n" + "".join(lines))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_serve_first_run_and_restart(tmp_path):
    instance, port = tmp_path / "instance", free_port()
    proc, out = start_serve(instance, port)
    try:
        assert f"http://127.0.0.1:{port}/" in out
        password = re.search(r"user 'admin', password '([^']+)'", out).group(1)
        health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz"))
        assert health["database"] == health["storage"] == health["queue"] == "ok"
    finally:
        stop(proc)
    assert proc.returncode == 0
    for f in ("studio.db", "secret_key", "objectstore/s3-identities.json"):
        assert (instance / f).exists(), f
    proc, out = start_serve(instance, port)
    try:
        assert "password" not in out  # the admin exists; nothing new is printed
        # The admin's generated password still works after the restart.
        import http.cookiejar
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"http://127.0.0.1:{port}/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"username": "admin", "password": password, "csrf_token": token}).encode()
        final = opener.open(f"http://127.0.0.1:{port}/login", data=data)
        assert final.geturl().endswith("/works")
    finally:
        stop(proc)


def test_admin_password_from_environment(tmp_path):
    proc, out = start_serve(tmp_path / "i", free_port(), {"STUDIO_ADMIN_PASSWORD": "from the environment"})
    try:
        assert "password '" not in out
    finally:
        stop(proc)
    from studio import create_app
    from studio.extensions import db
    from studio.services import accounts
    app = create_app({"ENVIRON": {"STUDIO_INSTANCE": str(tmp_path / "i")}, "QUEUE_URL": "memory://"})
    with app.app_context():
        assert accounts.authenticate(db.session, "admin", "from the environment", "t").username == "admin"
