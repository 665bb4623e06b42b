"""Shared fixtures: a real SeaweedFS S3 server, a fresh app and database per test, users and a logged-in client."""
from __future__ import annotations

import shutil
import uuid
import warnings
from pathlib import Path

import pytest
from minio.error import S3Error

from storage.errors import StorageError
from storage.objectstore import ObjectStore
from storage.seaweed import EmbeddedSeaweed

from tests import processes

from tests.helpers import PASSWORD, Web


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
    app = create_app({"TESTING": True,
                      "S3_URL": store_url, "QUEUE_URL": "memory://", "MODEL_CACHE": model_cache},
                     environ={"STUDIO_INSTANCE": str(tmp_path / "instance")})
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


@pytest.fixture
def web(app):
    """A fresh browser-like client (not logged in)."""
    return Web(app.test_client())


@pytest.fixture
def make_web(app):
    """Factory for further independent clients (two editors at once)."""
    return lambda: Web(app.test_client())
