"""Shared fixtures: a real SeaweedFS S3 server, a fresh app and database per test, users and a logged-in client."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import uuid
import warnings
import zlib
from pathlib import Path

import pytest
from minio.error import S3Error

from storage.errors import StorageError
from storage.objectstore import ObjectStore
from storage.seaweed import EmbeddedSeaweed

from tests import processes

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples" / "speech"
PASSWORD = "correct horse battery"


def pytest_configure(config):
    """Orphans of the run's programs come back to pytest, so the run can find every one (tests/processes.py)."""
    processes.become_subreaper()


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """Fail a test that leaves a process of its own running (its helpers must stop what they started)."""
    before = set(processes.descendants())
    yield
    left = processes.left_behind(before)
    if left:
        processes.kill_all(left)
        pytest.fail("the test left processes running (killed now): "
                    + "; ".join(f"{pid} {cmd[:200]}" for pid, cmd in left.items()), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """The run ends with none of its processes alive; any found are named, killed, and fail the run."""
    left = processes.left_behind(set(), settle_s=15)
    if left:
        processes.kill_all(left)
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "processes of the run still alive at its end (killed now): "
            + "; ".join(f"{pid} {cmd[:200]}" for pid, cmd in left.items()), red=True)
        session.exitstatus = 1
    processes.reap()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One real SeaweedFS (weed mini) for the whole run, on loopback ports chosen at run time."""
    server = EmbeddedSeaweed(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.stop()


def bucket_url(seaweed: EmbeddedSeaweed, bucket: str) -> str:
    """The server's S3 URL with another bucket name."""
    return seaweed.url.rsplit("/", 1)[0] + "/" + bucket


@pytest.fixture
def store_url(seaweed) -> str:
    """The URL of an empty bucket of its own for each test."""
    url = bucket_url(seaweed, "t" + uuid.uuid4().hex[:20])
    store = ObjectStore.from_url(url)
    store.ensure_bucket()
    yield url
    # The run's one SeaweedFS gives each bucket volumes of its own: emptying and removing the test's bucket
    # gives them back, so the last of ~600 tests still find room (best effort: a failure here is no test's).
    try:
        for obj in list(store.list()):
            store.delete(obj.key)
        store.client.remove_bucket(store.bucket)
    except (StorageError, S3Error) as exc:  # a test that stopped the server, or left a bucket it cannot empty
        warnings.warn(f"test bucket not removed: {exc}")


@pytest.fixture
def store(store_url) -> ObjectStore:
    """A client for the test's bucket."""
    return ObjectStore.from_url(store_url)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> str:
    """One folder for the assembled Whisper model, shared by every app in the run."""
    return str(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def argos_packages(tmp_path_factory) -> Path:
    """vi→en and en→zh Argos packages with random weights, built here (no vi→zh: that pair must pivot)."""
    from tests.media_pipeline.argos_builder import build_package

    d = tmp_path_factory.mktemp("argos-packages")
    build_package(d, "vi", "en", seed=1)
    build_package(d, "en", "zh", seed=2)
    for f in d.glob("build-*"):
        shutil.rmtree(f)
    return d


@pytest.fixture
def app(tmp_path, store_url, model_cache):
    """The studio over a temporary SQLite database (migrated with Alembic) and the test's bucket."""
    from flask_migrate import upgrade

    from studio import create_app
    app = create_app({"ENVIRON": {"STUDIO_INSTANCE": str(tmp_path / "instance")}, "TESTING": True,
                      "S3_URL": store_url, "QUEUE_URL": "memory://", "MODEL_CACHE": model_cache})
    with app.app_context():
        upgrade()
    yield app


@pytest.fixture
def live_server(app, users):
    """The app served as `studio serve` serves it (uvicorn) on a free loopback port, in a thread."""
    from studio.web.serving import serve_in_thread
    url, server, thread = serve_in_thread(app, threads=4)
    yield url
    server.stop()
    thread.join(timeout=15)


@pytest.fixture
def db_session(app):
    """A session of its own on the app's database, for checking what requests wrote.

    It deliberately pushes no app context: one held open across test-client requests would share
    flask.g between them (and with it Flask-WTF's cached CSRF token), which no real browser sees.
    """
    from sqlalchemy.orm import Session

    from studio.extensions import db
    with app.app_context():
        engine = db.engine
    session = Session(engine)
    yield session
    session.close()


@pytest.fixture
def users(app):
    """One account per role, plus a second editor and approver; all share PASSWORD."""
    from studio.extensions import db
    from studio.services import Caller, accounts
    spec = {"admin": ["admin"], "editor": ["editor"], "editor2": ["editor"], "approver": ["approver"],
            "approver2": ["approver"], "translator": ["translator"], "chief": ["editor", "approver"]}
    with app.app_context():
        ids = {}
        for name, roles in spec.items():
            u = accounts.create_user(db.session, Caller(None, "test"), name, PASSWORD, roles, name.title(),
                                     system=True)
            ids[name] = u.id
        db.session.commit()
    return ids


class Web:
    """A test client that logs in and sends the CSRF token the pages carry, as a browser would."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def _refresh_token(self, path: str = "/login") -> str:
        html = self.client.get(path).get_data(as_text=True)
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert m, f"no CSRF token on {path}"
        self.token = m.group(1)
        return self.token

    def login(self, username: str, password: str = PASSWORD):
        self._refresh_token("/login")
        resp = self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": self.token})
        if resp.status_code == 302:
            self._refresh_token("/account/tokens")
        return resp

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, **kw)


@pytest.fixture
def web(app):
    """A fresh browser-like client (not logged in)."""
    return Web(app.test_client())


@pytest.fixture
def make_web(app):
    """Factory for further independent clients (two editors at once)."""
    return lambda: Web(app.test_client())


def new_work(web: Web, **fields) -> int:
    """Create a work through the form and return its id."""
    data = {"kind": "article", "title": "Thông báo lịch tiêm chủng", "body": "Xã tổ chức tiêm chủng.",
            "source_language": "vi", "priority": "normal"}
    data.update(fields)
    resp = web.post("/works/new", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rstrip("/").split("/")[-1])


# ---- tiny real media made in the tests -------------------------------------------------------------


def make_png(path: Path, size=(64, 48), color=(200, 30, 30)) -> Path:
    """A real PNG picture."""
    from PIL import Image
    Image.new("RGB", size, color).save(path, "PNG")
    return path


def make_png_bomb(path: Path, width: int = 40000, height: int = 40000) -> Path:
    """A tiny PNG whose header claims huge dimensions (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def make_tone(path: Path, seconds: float = 1.0, freq: int = 440) -> Path:
    """A real audio file (sine tone) encoded by ffmpeg; the codec follows the extension."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
                    str(path)], check=True)
    return path


def make_video(path: Path, seconds: float = 1.0) -> Path:
    """A real small H.264 video with a tone."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True)
    return path
