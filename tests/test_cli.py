"""`studio serve` as a newcomer runs it: embedded object store, worker, first admin, reuse on restart."""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests import processes

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(instance: Path, port: int, env_extra: dict | None = None, args: tuple[str, ...] = ()):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(instance), **(env_extra or {})})
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--port", str(port), *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Studio running at" in line:
            # Keep reading: a full pipe (64 KiB of log) would block every thread of the server that logs.
            proc.lines = lines
            proc.drain = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
            proc.drain.start()
            return proc, "".join(lines)
    processes.stop(proc, 5)
    raise AssertionError("studio serve did not start:\n" + "".join(lines))


def stop(proc, grace: float = 30):
    """SIGTERM, wait for the exit (SIGKILL after `grace` s), then for the last lines of its log."""
    processes.stop(proc, grace)
    proc.drain.join(timeout=10)


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
    app = create_app({"QUEUE_URL": "memory://"}, environ={"STUDIO_INSTANCE": str(tmp_path / "i")})
    with app.app_context():
        assert accounts.authenticate(db.session, "admin", "from the environment", "t").username == "admin"


@pytest.mark.slow
def test_demo_renders_every_channel_offline(tmp_path):
    """`studio demo --json` on a fresh instance: all four channels, three caption languages, measured loudness,
    and an endpoint of every kind and common display served only files made for it (sizes measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "instance"), "STUDIO_TTS_ENGINES": "espeak"})
    out = subprocess.run([sys.executable, "-m", "studio.cli", "demo", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    channels = {r["channel"] for r in summary["renditions"]}
    assert channels == {"loudspeaker", "eboard", "border_screen", "web"}
    for r in summary["renditions"]:
        assert Path(r["file"]).exists() and r["duration_s"] > 5 and r["language"] in ("vi", "zh", "en")
        if r["file"].endswith(".mp3"):
            assert abs(r["lufs"] + 16) <= 1.0
    border = next(r for r in summary["renditions"] if r["channel"] == "border_screen" and r["language"] == "vi")
    srt = Path(border["srt"]).read_text(encoding="utf-8")
    assert "Đồng Đăng" in srt
    ass_free_check = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height",
                                     "-of", "json", border["file"]], capture_output=True, text=True, check=True)
    streams = json.loads(ass_free_check.stdout)["streams"]
    assert {"codec_type": "video", "width": 1920, "height": 1080} in streams
    # The sample publication: EPUB, narrated EPUB and PDF, each a local file.
    from tests.media_pipeline.test_publication import epubcheck
    books = {b["format"]: Path(b["file"]) for b in summary["publications"]}
    assert set(books) == {"epub", "epub-narrated", "pdf"} and all(p.exists() for p in books.values())
    assert epubcheck(books["epub-narrated"]).returncode == 0
    assert books["pdf"].read_bytes().startswith(b"%PDF")
    # The demo also published its package and registered an endpoint of every kind: fetch each feed as curl
    # would, download every file, and measure the pictures and videos with ffprobe.
    assert set(summary["jobs"].values()) == {"succeeded"} and summary["endpoint_token"].startswith("ep_")
    endpoints = summary["endpoints"]
    assert {e["kind"] for e in endpoints} == {"loudspeaker", "eboard", "border_screen", "kiosk", "portal"}
    displays = {(e["kind"], e["display"]) for e in endpoints}
    assert {("eboard", "1920x1080"), ("eboard", "384x192"), ("eboard", "1080x1920"),
            ("border_screen", "1920x1080")} <= displays
    assert next(e for e in endpoints if e["kind"] == "border_screen")["languages"] == ["en", "vi", "zh"]
    port = free_port()
    proc, _ = start_serve(tmp_path / "instance", port, {"STUDIO_TTS_ENGINES": "espeak"})
    try:
        url = summary["feed_url"].replace("127.0.0.1:5000", f"127.0.0.1:{port}")
        for ep in endpoints:
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {ep['token']}"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                feed = json.load(resp)
            assert [i["work_id"] for i in feed["items"]] == [summary["work_id"]], ep
            files = feed["items"][0]["files"]
            assert files, ep
            if ep["kind"] == "border_screen":  # a video in each of its three languages
                assert {f["language"] for f in files if f["role"] == "video"} == {"vi", "zh", "en"}
            for f in files:
                assert f["mime"] and f["language"] and (not ep["languages"] or f["language"] in ep["languages"])
                with urllib.request.urlopen(f["url"], timeout=60) as resp:
                    data = resp.read()
                assert hashlib.sha256(data).hexdigest() == f["sha256"]
                if f["role"] in ("video", "still"):
                    local = tmp_path / f"probe-{f['sha256'][:12]}"
                    local.write_bytes(data)
                    info = json.loads(subprocess.run(
                        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                         "-of", "json", str(local)], capture_output=True, text=True, check=True).stdout)
                    size = (info["streams"][0]["width"], info["streams"][0]["height"])
                    assert size == (f["width"], f["height"]), f
                    if ep["display"]:
                        assert f"{size[0]}x{size[1]}" == ep["display"], (ep["name"], f["profile"])
            if ep["kind"] == "loudspeaker":
                assert {f["channel"] for f in files} == {"loudspeaker"} and {f["mime"] for f in files} == {"audio/mpeg"}
    finally:
        stop(proc)


@pytest.mark.slow
def test_render_command_prints_progress_and_reuses(tmp_path, store_url, model_cache):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    # The run's one assembled Whisper model (as every app in the run uses), not a fresh join per command.
    env.update({"STUDIO_INSTANCE": str(tmp_path / "instance"), "STUDIO_S3_URL": store_url,
                "STUDIO_MODEL_CACHE": model_cache,
                "STUDIO_ADMIN_PASSWORD": "admin password here", "STUDIO_TTS_ENGINES": "espeak"})
    from studio import create_app
    from studio.cli.common import prepare
    from studio.extensions import db
    from studio.services import Caller, works
    app = create_app({"S3_URL": store_url}, environ=env)
    prepare(app)
    with app.app_context():
        from storage.models import User
        admin = db.session.query(User).filter_by(username="admin").one()
        wid = works.create(db.session, Caller(admin), {"title": "Bản tin", "body": "Xin chào bà con."}).id
        db.session.commit()
    cmd = [sys.executable, "-m", "studio.cli", "render", str(wid), "--channel", "loudspeaker"]
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "loudspeaker [vi]" in first.stdout and "succeeded" in first.stdout
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "succeeded (reused)" in again.stdout
    bad = subprocess.run([sys.executable, "-m", "studio.cli", "render", "999"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "999" in bad.stderr


def test_models_install_list_and_refusals(tmp_path):
    """`studio models install/list` on a package built here; a corrupt one is refused with its reason."""
    from tests.media_pipeline.argos_builder import build_package

    pkg = build_package(tmp_path / "pkgs", "vi", "en")
    env = {**os.environ, "STUDIO_INSTANCE": str(tmp_path / "inst"), "STUDIO_MODEL_CACHE": str(tmp_path / "models"),
           "STUDIO_ARGOS_INDEX_URL": "http://127.0.0.1:9/index.json"}

    def studio(*args):
        return subprocess.run([sys.executable, "-m", "studio.cli", "models", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    empty = studio("list")
    assert empty.returncode == 0 and "studio models install" in empty.stdout
    broken = tmp_path / "broken.argosmodel"
    broken.write_bytes(pkg.read_bytes()[:5000])
    refused = studio("install", str(broken))
    assert refused.returncode == 2 and "broken.argosmodel" in refused.stderr and "nothing was installed" in refused.stderr
    ok = studio("install", str(pkg))
    assert ok.returncode == 0 and ok.stdout.startswith("vi→en  version 1.0")
    assert studio("list").stdout.startswith("vi→en")
    offline = studio("download", "vi", "zh")
    assert offline.returncode == 2 and "offline" in offline.stderr


def _processes_with(marker: str) -> list[int]:
    from tests.jobs.test_jobs import processes_with
    return processes_with(marker)


@pytest.mark.slow
def test_sigterm_during_a_render_stops_programs_and_store_and_the_job_completes_after_restart(tmp_path):
    """SIGTERM while ffmpeg encodes: serve exits, no ffmpeg or SeaweedFS is left, the job waits in the queue
    and the next start completes it (its interrupted attempt does not count)."""
    instance, port = tmp_path / "instance", free_port()
    env_extra = {"STUDIO_ADMIN_PASSWORD": "admin password here", "STUDIO_TTS_ENGINES": "espeak",
                 "STUDIO_WHISPER_MODEL": ""}
    proc, _ = start_serve(instance, port, env_extra)
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(instance), **env_extra})
    try:
        token = subprocess.run([sys.executable, "-m", "studio.cli", "token", "create", "admin", "--name", "ci"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert token.returncode == 0, token.stderr
        assert re.fullmatch(r"st_\S+\n", token.stdout)  # the token alone on one line, for scripts
        headers = {"Authorization": f"Bearer {token.stdout.strip()}", "Content-Type": "application/json"}

        def api(method, path, body=None):
            req = urllib.request.Request(base + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.load(resp)
        body = " ".join(f"Thông báo số {i}: bà con theo dõi bản tin thời tiết và mực nước suối." for i in range(40))
        _, work = api("POST", "/api/v1/works", {"title": "Bản tin dài", "body": body})
        status, queued = api("POST", f"/api/v1/works/{work['id']}/renders", {"channels": ["eboard"]})
        assert status == 202
        (job_id,) = queued["jobs"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job = api("GET", f"/api/v1/jobs/{job_id}")[1]
            if job["state"] == "running" and job["progress"] >= 76:  # the video encode is under way
                break
            assert job["state"] in ("queued", "running"), job
            time.sleep(0.2)
        assert _processes_with(str(instance / "tmp")), "ffmpeg should be encoding"
        assert _processes_with(str(instance / "objectstore"))  # the embedded SeaweedFS
        stop(proc, 120)
        out = "".join(proc.lines)
    finally:
        processes.stop(proc, 0)
    assert proc.returncode == 0, out
    assert f"Jobs back in the queue for the next start: [{job_id}]" in out
    assert not _processes_with(str(instance / "tmp")) and not _processes_with(str(instance / "objectstore"))
    from studio import create_app
    from studio.extensions import db
    from storage.models import Job
    app = create_app({"QUEUE_URL": "memory://"}, environ=env)
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.state == "queued" and job.attempts == 0
    proc, _ = start_serve(instance, port, env_extra)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job = api("GET", f"/api/v1/jobs/{job_id}")[1]
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        assert job["state"] == "succeeded" and job["attempts"] == 1, job
    finally:
        stop(proc)


def test_endpoint_add_and_token_create_for_scripts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "i"), "STUDIO_ADMIN_PASSWORD": "admin password here"})

    def studio(*args):
        return subprocess.run([sys.executable, "-m", "studio.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
    assert studio("db", "upgrade").returncode == 0
    out = studio("endpoint", "add", "--name", "Loa xã Tân Thanh", "--kind", "loudspeaker", "--languages", "vi,tyz",
                 "--json")
    assert out.returncode == 0, out.stderr
    ep = json.loads(out.stdout)
    assert ep["token"].startswith("ep_") and ep["languages"] == ["tyz", "vi"] and ep["area"] is None
    plain = studio("endpoint", "add", "--name", "Bảng LED", "--kind", "eboard", "--display", "384x192")
    assert plain.returncode == 0 and re.fullmatch(r"ep_\S+\n", plain.stdout)
    assert studio("endpoint", "add", "--name", "X", "--kind", "eboard", "--area", "nowhere").returncode == 2
    bad = studio("endpoint", "add", "--name", "X", "--kind", "loudspeaker", "--languages", "xx")
    assert bad.returncode == 2 and "xx" in bad.stderr
    assert studio("token", "create", "nobody").returncode != 0
    from studio import create_app
    from studio.extensions import db
    from studio.services import endpoints
    app = create_app({"QUEUE_URL": "memory://"}, environ=env)
    with app.app_context():
        assert endpoints.for_token(db.session, ep["token"]).name == "Loa xã Tân Thanh"


def test_normalize_prints_what_the_voice_reads_line_for_line(tmp_path):
    """`studio normalize` applies the packaged rules and the province's own from the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "instance"), "STUDIO_ADMIN_PASSWORD": "admin password here"})
    from studio import create_app
    from studio.cli.common import prepare
    from studio.extensions import db
    from studio.services import Caller, voices
    app = create_app({"S3_URL": "s3://unused:unused@127.0.0.1:9/unused"}, environ=env)
    prepare(app)
    with app.app_context():
        from storage.models import User
        admin = db.session.query(User).filter_by(username="admin").one()
        voices.save_reading_rules(db.session, Caller(admin), json.dumps({"abbreviations": {"BQL": "Ban quản lý"}}))
        db.session.commit()
    text = "Gọi 0205 3851 234 ngay.\n\nBQL chợ họp ngày 25/11, QL1A sạt lở.\n"
    out = subprocess.run([sys.executable, "-m", "studio.cli", "normalize"], input=text, cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == ["Gọi không hai không năm, ba tám năm một, hai ba bốn ngay.", "",
                                       "Ban quản lý chợ họp ngày hai mươi lăm tháng mười một, quốc lộ một a sạt lở."]
    english = subprocess.run([sys.executable, "-m", "studio.cli", "normalize", "--language", "en"], input="At 7h.\n",
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert english.stdout == "At 7h.\n"


@pytest.mark.slow
def test_standalone_worker_beside_serve_uses_its_embedded_store(tmp_path):
    """The README's `studio serve --no-worker` plus `studio worker` on one instance with no settings: the worker
    finds the store `serve` runs (address and credentials from the instance) and renders; without a running
    store it refuses to start and says what to set."""
    instance, port = tmp_path / "instance", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(instance), "STUDIO_TTS_ENGINES": "espeak", "STUDIO_WHISPER_MODEL": ""})
    alone = subprocess.run([sys.executable, "-m", "studio.cli", "worker"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert alone.returncode != 0 and "STUDIO_S3_URL" in alone.stderr and "studio serve" in alone.stderr
    assert "Traceback" not in alone.stderr and "alembic" not in alone.stderr  # no library chatter without -v
    proc, out = start_serve(instance, port, {"STUDIO_TTS_ENGINES": "espeak", "STUDIO_WHISPER_MODEL": ""},
                            ("--no-worker",))
    worker = None
    try:
        assert "alembic" not in out and "Running upgrade" not in out, out
        worker = subprocess.Popen([sys.executable, "-m", "studio.cli", "worker", "--workers", "1"], cwd=ROOT,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        token = subprocess.run([sys.executable, "-m", "studio.cli", "token", "create", "admin", "--name", "w"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert token.returncode == 0, token.stderr
        headers = {"Authorization": f"Bearer {token.stdout.strip()}", "Content-Type": "application/json"}

        def api(method, path, body=None):
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.load(resp)
        work = api("POST", "/api/v1/works", {"title": "Thông báo", "body": "Bà con chú ý lịch tiêm chủng."})
        (job_id,) = api("POST", f"/api/v1/works/{work['id']}/renders", {"channels": ["loudspeaker"]})["jobs"]
        deadline = time.monotonic() + 300  # only keeps a broken run from hanging
        while time.monotonic() < deadline:
            job = api("GET", f"/api/v1/jobs/{job_id}")
            if job["state"] not in ("queued", "running", "waiting"):
                break
            time.sleep(0.3)
        assert job["state"] == "succeeded", job
        import sqlite3
        with sqlite3.connect(instance / "studio.db") as db:
            (owner,) = db.execute("select worker from jobs where id = ?", (job_id,)).fetchone()
        assert int(owner.split(":")[1]) == worker.pid  # done by the standalone worker
    finally:
        if worker is not None:
            processes.stop(worker, 30)
        stop(proc)
    log = worker.stdout.read()
    assert "embedded SeaweedFS of `studio serve`" in log and "Traceback" not in log, log


def test_sites_export_builds_every_site_in_parallel_processes(tmp_path, store_url):
    """`studio sites export` as an admin runs it for the first full build: a province of 120 communes from
    `studio areas import`, each site written to the store; 121 sites take a process a core (two here), and no
    process of it is left once it has printed its summary."""
    from storage.objectstore import ObjectStore
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "i"), "STUDIO_S3_URL": store_url,
                "STUDIO_ADMIN_PASSWORD": "admin password here"})
    csv = tmp_path / "areas.csv"
    csv.write_text("code,name,level,parent_code\n02,Hà Giang,province,\n" + "".join(
        f"{10000 + n},Xã {n},commune,02\n" for n in range(120)), encoding="utf-8")

    def studio(*args):
        return subprocess.run([sys.executable, "-m", "studio.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
    assert studio("areas", "import", str(csv)).returncode == 0
    out = studio("sites", "export")
    assert out.returncode == 0, out.stderr
    cores = min(os.cpu_count() or 1, 121 // 50)
    assert re.match(rf"121 sites in [\d.]+ s \({cores} process(es)?\): \d+ pages written", out.stdout), out.stdout
    store = ObjectStore.from_url(store_url)
    assert {o.key.split("/")[1] for o in store.list("sites/") if o.key.endswith("/manifest.json")} == {
        "02", *(str(10000 + n) for n in range(120))}
    assert "Xã 7" in store.get_bytes("sites/10007/index.html").decode()
    # A code that names no area, among enough for the parallel path: said plainly, from the child process.
    bad = studio("sites", "export", *(str(10000 + n) for n in range(120)), "nosuch")
    assert bad.returncode == 1 and bad.stderr.strip() == "error: There is no site for nosuch.", bad.stderr
    again = studio("sites", "export", "10007")  # one site, in this process: nothing changed
    assert again.returncode == 0 and re.match(r"1 site in [\d.]+ s \(1 process\): 0 pages written", again.stdout), \
        again.stdout
