"""The studio on PostgreSQL (STUDIO_DATABASE_URL): a real server from Debian's packages, started as `postgres`."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests import processes

from tests.helpers import new_work

pytestmark = pytest.mark.slow
PG_BIN = Path("/usr/lib/postgresql")


def _pg_tool(name: str) -> str:
    found = sorted(PG_BIN.glob(f"*/bin/{name}"))
    if not found:
        pytest.fail("PostgreSQL is not installed: run scripts/install-system-deps.sh --test (./dev test does)")
    return str(found[-1])


def _as_postgres(cmd: list[str], **kw):
    """PostgreSQL refuses to run as root; tests in CI run as root, so drop to the postgres user there."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


@pytest.fixture(scope="module")
def postgres_url():
    # Not under pytest's tmp folder: that is private to root, and the server runs as `postgres`.
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="studio-pg-"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    _as_postgres([_pg_tool("initdb"), "-D", str(data), "-U", "studio", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [_pg_tool("postgres"), "-D", str(data), "-p", str(port), "-k", str(sock), "-c", "listen_addresses=127.0.0.1",
           "-c", "fsync=off"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = subprocess.run([_pg_tool("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
        if ready.returncode == 0:
            break
        time.sleep(0.2)
    _as_postgres([_pg_tool("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "studio", "studio"])
    yield f"postgresql+psycopg://studio@127.0.0.1:{port}/studio"
    processes.stop(server, 20)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_app(tmp_path, store_url, postgres_url, model_cache):
    from flask_migrate import downgrade, upgrade

    from studio import create_app
    app = create_app({"TESTING": True,
                      "SQLALCHEMY_DATABASE_URI": postgres_url, "S3_URL": store_url, "QUEUE_URL": "memory://",
                      "MODEL_CACHE": model_cache, "WHISPER_MODEL": ""},
                     environ={"STUDIO_INSTANCE": str(tmp_path / "instance")})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        from studio.extensions import db
        db.session.remove()
        downgrade(revision="base")  # the migrations go down cleanly too


def test_full_flow_on_postgresql(pg_app):
    from sqlalchemy import text

    from studio.extensions import db
    from studio.services import Caller, accounts
    from tests.helpers import PASSWORD, Web
    with pg_app.app_context():
        assert db.session.execute(text("select version()")).scalar().startswith("PostgreSQL")
        for name, roles in (("editor", ["editor"]), ("approver", ["approver"])):
            accounts.create_user(db.session, Caller(None), name, PASSWORD, roles, system=True)
        db.session.commit()
    web = Web(pg_app.test_client())
    web.login("editor")
    wid = new_work(web, title="Thông báo Đồng Đăng", body="Dòng một", topics="y tế, tiêm chủng")
    assert web.post(f"/works/{wid}/edit", {"kind": "article", "title": "Thông báo Đồng Đăng", "body": "Dòng hai",
                                            "version": "1"}).status_code == 302
    assert web.post(f"/works/{wid}/edit", {"kind": "article", "title": "x", "body": "cũ",
                                            "version": "1"}).status_code == 409
    assert "(1)" in web.get("/works?q=đồng đăng").get_data(as_text=True)  # ilike with Vietnamese
    diff = web.get(f"/works/{wid}/revisions?a=1&b=2").get_data(as_text=True)
    assert "+Dòng hai" in diff
    web.post(f"/works/{wid}/transition", {"action": "submit"})
    approver = Web(pg_app.test_client())
    approver.login("approver")
    assert approver.post(f"/works/{wid}/transition", {"action": "approve"}).status_code == 302
    assert web.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]}).status_code == 302
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "đã duyệt" in page and "<audio" in page
    from studio.services import memory
    with pg_app.app_context():
        long_segment = "Người dân chú ý theo dõi bản tin. " * 200  # longer than a btree entry may be
        memory.add(db.session, "vi", "en", long_segment, "People, follow the bulletin. " * 200)
        memory.add(db.session, "vi", "en", "Trời mưa to.", "Heavy rain.")
        db.session.commit()
        assert memory.lookup(db.session, "vi", "en", long_segment)[0].score == 1.0
        assert memory.lookup(db.session, "vi", "en", "Trời mưa rất to.")[0].target == "Heavy rain."
    # Translations: two translators' segment saves through the compare-and-set, and stale marking.
    translator = Web(pg_app.test_client())
    with pg_app.app_context():
        accounts.create_user(db.session, Caller(None), "translator", PASSWORD, ["translator"], system=True)
        db.session.commit()
    translator.login("translator")
    translator.post(f"/works/{wid}/translations", {"language": "tyz"})
    json_headers = {"X-Requested-With": "XMLHttpRequest"}
    assert translator.post(f"/works/{wid}/translations/tyz/segments/1", {"target": "A"},
                           headers=json_headers).status_code == 200
    assert web.post(f"/works/{wid}/translations/tyz/segments/2", {"target": "B"}, headers=json_headers).status_code == 200
    from studio.services import translations
    with pg_app.app_context():
        assert [s["target"] for s in translations.get(db.session, wid, "tyz").segments] == ["A", "B"]
    page = web.get(f"/works/{wid}/edit").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    web.post(f"/works/{wid}/edit", {"kind": "article", "title": "Thông báo Đồng Đăng", "body": "Dòng ba",
                                    "version": version})
    with pg_app.app_context():
        assert [s["status"] for s in translations.get(db.session, wid, "tyz").segments] == ["edited", "stale"]


def test_concurrent_saves_answer_409_never_500_on_postgresql(pg_app):
    from sqlalchemy import func, select

    from storage.models import Revision
    from studio.extensions import db
    from studio.services import Caller, accounts
    from studio.web.serving import serve_in_thread
    from tests.web.test_security import race_saves
    with pg_app.app_context():
        user = accounts.create_user(db.session, Caller(None), "editor", "long password!", ["editor"], system=True)
        db.session.commit()
        token = accounts.create_token(db.session, Caller(user), "race")[1]
        db.session.commit()
    url, server, thread = serve_in_thread(pg_app, threads=4)
    try:
        wid, statuses = race_saves(url, token)
    finally:
        server.stop()
        thread.join(timeout=15)
    assert set(statuses) <= {200, 409} and statuses.count(200) >= 1, sorted(set(statuses))
    with pg_app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Revision).where(Revision.work_id == wid))
        db.session.remove()
    assert count == 1 + statuses.count(200)


def test_search_ignores_case_and_diacritics_with_a_trigram_index_on_postgresql(pg_app):
    from sqlalchemy import text

    from studio.extensions import db
    from studio.services import Caller, accounts, works
    with pg_app.app_context():
        user = accounts.create_user(db.session, Caller(None), "editor", "long password!", ["editor"], system=True)
        works.create(db.session, Caller(user), {"title": "Phòng chống bệnh sởi ở Đồng Đăng", "body": "x"})
        works.create(db.session, Caller(user), {"title": "Lịch cắt điện", "body": "y"})
        db.session.commit()
        for q in ("SỞI", "soi", "dong dang", "ĐỒNG"):
            found, total = works.search(db.session, q=q)
            assert [w.title for w in found] == ["Phòng chống bệnh sởi ở Đồng Đăng"], q
        index = db.session.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_works_search_trgm'"))
        assert "gin_trgm_ops" in index.scalar()
        db.session.remove()


def test_one_feed_query_on_postgresql(pg_app, store):
    from studio.extensions import db
    from studio.services import Caller, accounts
    from tests.helpers import PASSWORD
    from tests.services.feed_cases import check_feed_query
    with pg_app.app_context():
        accounts.create_user(db.session, Caller(None), "admin", PASSWORD, ["admin"], system=True)
        db.session.commit()
        check_feed_query(db.session, store)


def test_the_programme_on_postgresql(pg_app):
    from studio.extensions import db
    from studio.services import Caller, accounts
    from tests.helpers import PASSWORD
    from tests.services.programme_cases import check_programme
    with pg_app.app_context():
        accounts.create_user(db.session, Caller(None), "admin", PASSWORD, ["admin"], system=True)
        db.session.commit()
        check_programme(db.session)
        db.session.remove()


def test_annual_report_on_postgresql(pg_app):
    """The report's SQL (hours, months, play seconds) gives on PostgreSQL what it gives on SQLite: the figures
    of tests/services/test_report.py's seed, each checked against plain Python over the rows."""
    from collections import Counter
    from datetime import datetime

    from studio.extensions import db
    from studio.services import Caller, accounts, report
    from tests.services.test_report import YEAR, seed
    with pg_app.app_context():
        user = accounts.create_user(db.session, Caller(None), "editor", "correct horse battery", ["editor"],
                                    system=True)
        db.session.commit()
        truth = seed(db.session, {"editor": user.id})
        got = report.annual(db.session, *report.period(YEAR), now=datetime(YEAR + 1, 1, 1))
    pub = truth["published"]
    assert got["works"]["published"] == len(pub) and got["works"]["produced"] == truth["produced"]
    assert got["works"]["by_month"] == dict(Counter(p["month"] for p in pub))
    assert got["works"]["by_language"] == dict(Counter(lang for p in pub for lang in p["langs"]))
    assert got["plays"]["total"] == 300
    assert got["plays"]["hours"] == round(sum(s for _, s in truth["plays"]) / 3600, 2)
    assert [x["uptime"] for x in got["endpoints"]["list"]] == [round(60 / 8753, 4)] * 5
    assert got["feedback"]["received"] == 12
