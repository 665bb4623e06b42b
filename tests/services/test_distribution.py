"""Publishing and distribution against the real embedded S3 and the app served over HTTP: packages,
feeds with ETags, the reference sync client, retraction, tampering, tokens, reports, store outages."""
from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import jsonschema
import pytest
import requests
from sqlalchemy import select

from storage.models import Area, EndpointReport, Job, Package, User, utcnow
from endpoint_client import SyncClient, SyncError
from tests.helpers import new_work

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "manifest.schema.json").read_text())


@pytest.fixture
def province(app, users):
    """Hà Giang → Vị Xuyên → Thanh Thủy."""
    from studio.extensions import db
    from studio.services import Caller, areas
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        p = areas.create(db.session, admin, "02", "Hà Giang", "province", None)
        db.session.flush()
        d = areas.create(db.session, admin, "02.030", "Vị Xuyên", "district", p.id)
        db.session.flush()
        c = areas.create(db.session, admin, "02.030.00961", "Thanh Thủy", "commune", d.id)
        db.session.commit()
        return {"province": p.id, "district": d.id, "commune": c.id}


def _login(make_web, name):
    w = make_web()
    assert w.login(name).status_code == 302
    return w


def _publish(make_web, **fields) -> int:
    """An editor writes and renders, a second person approves and publishes."""
    editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
    wid = new_work(editor, body="Xã Thanh Thủy thông báo lịch tiêm chủng.", channels="loudspeaker", **fields)
    assert editor.post(f"/works/{wid}/transition", {"action": "submit"}).status_code == 302
    assert approver.post(f"/works/{wid}/transition", {"action": "approve"}).status_code == 302
    assert editor.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]}).status_code == 302
    assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302
    return wid


def _endpoint(make_web, area_id, kind="loudspeaker", name="Loa xã Thanh Thủy") -> str:
    admin = _login(make_web, "admin")
    page = admin.post("/admin/endpoints", {"name": name, "kind": kind, "area_id": str(area_id)}).get_data(as_text=True)
    token = page.split('id="new-endpoint-token">')[1].split("<")[0]
    assert token.startswith("ep_")
    return token


def test_publish_sync_retract_and_static_feeds(app, make_web, users, province, live_server, store, tmp_path,
                                               db_session):
    wid = _publish(make_web, area_ids=str(province["province"]))
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    assert package.state == "published" and package.version == 1
    manifest = json.loads(store.get_bytes(package.manifest_key))
    jsonschema.validate(manifest, SCHEMA)
    assert hashlib.sha256(store.get_bytes(package.manifest_key)).hexdigest() == package.manifest_sha256
    assert manifest["areas"] == ["02"] and manifest["priority"] == "normal" and manifest["title"]["vi"]
    audio = [f for f in manifest["files"] if f["role"] == "audio"]
    assert audio and audio[0]["channel"] == "loudspeaker" and audio[0]["duration_s"] > 1
    for f in manifest["files"]:  # content-addressed and what the manifest says
        assert hashlib.sha256(store.get_bytes(f["key"])).hexdigest() == f["sha256"] == f["key"].split("/")[1]
    assert manifest["ninjs"]["urgency"] == 5 and manifest["ninjs"]["renditions"]
    static = json.loads(store.get_bytes("feeds/loudspeaker/02.json"))
    assert [i["package_id"] for i in static["items"]] == [package.id]
    page = _login(make_web, "editor").get(f"/works/{wid}").get_data(as_text=True)
    assert "đang phát hành" in page and package.manifest_key in page

    token = _endpoint(make_web, province["commune"])  # a commune under the province gets it
    client = SyncClient(live_server, token, tmp_path / "box")
    first = client.sync()
    assert first.holds == [package.id] and len(first.downloaded) == len(manifest["files"])
    for f in manifest["files"]:
        assert hashlib.sha256(client.media_path(f["sha256"]).read_bytes()).hexdigest() == f["sha256"]
    assert (tmp_path / "box" / "manifests" / f"{package.id}.json").read_bytes() == store.get_bytes(package.manifest_key)
    second = client.sync()
    assert second.not_modified and second.holds == [package.id]
    other = _endpoint(make_web, province["commune"], kind="eboard", name="Bảng tin")
    assert SyncClient(live_server, other, tmp_path / "board").sync().holds == []  # no e-board media

    client.record_play(package.id, audio[0]["sha256"], "2026-11-23T07:00:00Z", "2026-11-23T07:01:00Z")
    client.sync()
    db_session.expire_all()
    plays = db_session.scalars(select(EndpointReport).where(EndpointReport.type == "play")).all()
    assert [(p.package_id, p.outcome) for p in plays] == [(package.id, "played")]
    admin = _login(make_web, "admin")
    ep_page = admin.get("/admin/endpoints/1").get_data(as_text=True)
    assert f"Cần có các gói: {package.id}" in ep_page and f"Báo đang có: {package.id}" in ep_page
    assert "đã phát" in ep_page  # the play's outcome, in the reader's words

    approver = _login(make_web, "approver")
    assert approver.post(f"/works/{wid}/transition", {"action": "retract", "reason": "Sai lịch"}).status_code == 302
    third = client.sync()
    assert third.holds == [] and sorted(third.removed) == sorted(f["sha256"] for f in manifest["files"])
    assert list((tmp_path / "box" / "media").iterdir()) == []
    assert json.loads(store.get_bytes("feeds/loudspeaker/02.json"))["items"] == []
    assert store.exists(package.manifest_key)  # retracted packages stay readable for the record


def test_next_version_emergency_first_and_etag(app, make_web, users, province, live_server, store, db_session):
    w1 = _publish(make_web, title="Tin thường")
    w2 = _publish(make_web, title="Cảnh báo lũ quét", priority="emergency")
    token = _endpoint(make_web, province["commune"])
    auth = {"Authorization": f"Bearer {token}"}
    r = requests.get(f"{live_server}/api/v1/feed", headers=auth, timeout=30)
    assert r.status_code == 200
    assert [i["work_id"] for i in r.json()["items"]] == [w2, w1]  # the emergency first
    etag = r.headers["ETag"]
    assert not etag.startswith("W/")
    assert requests.get(f"{live_server}/api/v1/feed", headers={**auth, "If-None-Match": etag},
                        timeout=30).status_code == 304
    url = r.json()["items"][0]["files"][0]["url"]
    part = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206 and len(part.content) == 100
    # A changed work published again: version 2 replaces version 1 in the feed; version 1 stays readable.
    editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
    page = editor.get(f"/works/{w1}/edit").get_data(as_text=True)
    version = page.split('name="version" value="')[1].split('"')[0]
    editor.post(f"/works/{w1}/edit", {"kind": "article", "title": "Tin thường (sửa)", "body": "Nội dung mới.",
                                      "channels": "loudspeaker", "version": version})
    editor.post(f"/works/{w1}/transition", {"action": "submit"})
    approver.post(f"/works/{w1}/transition", {"action": "approve"})
    editor.post(f"/works/{w1}/render", {"channels": ["loudspeaker"]})
    approver.post(f"/works/{w1}/transition", {"action": "publish"})
    db_session.expire_all()
    v1, v2 = db_session.scalars(select(Package).where(Package.work_id == w1).order_by(Package.version)).all()
    assert (v1.state, v2.state, v2.version) == ("superseded", "published", 2)
    assert store.exists(v1.manifest_key)
    again = requests.get(f"{live_server}/api/v1/feed", headers={**auth, "If-None-Match": etag}, timeout=30)
    assert again.status_code == 200 and again.headers["ETag"] != etag
    assert [(i["work_id"], i["version"]) for i in again.json()["items"]] == [(w2, 1), (w1, 2)]


def test_feed_polls_are_answered_before_flask_and_write_nothing(app, make_web, users, province, live_server,
                                                                db_session):
    """Feed polls come from one read in the ASGI layer (studio/web/serving.py), not Flask: the first 200 and
    every 304; none of them writes to the database (the endpoint is recorded as seen in batches); the view
    still answers what that read does not know: a revoked token."""
    from datetime import timedelta

    from sqlalchemy import event, update

    from storage.models import Endpoint, utcnow
    from studio.extensions import db
    from studio.services.accounts import hash_token
    _publish(make_web)
    token = _endpoint(make_web, province["commune"])
    auth = {"Authorization": f"Bearer {token}"}
    with app.app_context():
        url = str(db.engine.url)
        engine = db.engine
        with db.engine.connect() as conn:
            # Nothing computed yet in this process for this feed.
            assert app.extensions["feeds"].unchanged_etag(conn, url, hash_token(token)) is None
    from flask import request_started
    seen_by_flask = []
    request_started.connect(lambda sender, **kw: seen_by_flask.append(1), app, weak=False)
    writes = []

    def count_writes(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)
    long_ago = utcnow() - timedelta(minutes=5)
    db_session.execute(update(Endpoint).values(last_seen_at=long_ago))
    db_session.commit()
    event.listen(engine, "before_cursor_execute", count_writes)
    try:
        first = requests.get(f"{live_server}/api/v1/feed", headers=auth, timeout=30)
        assert first.status_code == 200 and first.json()["items"]
        assert first.headers["Content-Type"] == "application/json"
        etag = first.headers["ETag"].strip('"')
        with app.app_context(), db.engine.connect() as conn:
            assert app.extensions["feeds"].unchanged_etag(conn, url, hash_token(token)) == etag
            assert app.extensions["feeds"].unchanged_etag(conn, url, hash_token(token + "x")) is None
        for _ in range(20):
            unchanged = requests.get(f"{live_server}/api/v1/feed",
                                     headers={**auth, "If-None-Match": f'"{etag}"'}, timeout=30)
            assert unchanged.status_code == 304 and unchanged.headers["ETag"] == f'"{etag}"'
            assert not unchanged.content
        assert unchanged.headers["Cache-Control"] == "private, no-cache"
        assert unchanged.headers["X-Content-Type-Options"] == "nosniff"  # the same headers as the view's answers
        other = requests.get(f"{live_server}/api/v1/feed", headers={**auth, "If-None-Match": '"0000", "1111"'},
                             timeout=30)
        assert other.status_code == 200 and other.json()["items"] == first.json()["items"]
        assert writes == [], writes  # 22 polls, not one write
    finally:
        event.remove(engine, "before_cursor_execute", count_writes)
    assert seen_by_flask == []  # all answered before Flask
    # Seen, though: the batch is written when the server flushes it (every few seconds, and when it stops).
    app.extensions["sightings"].flush()
    db_session.expire_all()
    assert db_session.scalar(select(Endpoint.last_seen_at)) > long_ago + timedelta(minutes=4)
    # A revoked endpoint gets no answer from the cache: the view refuses it.
    db_session.execute(update(Endpoint).values(active=False))
    db_session.commit()
    refused = requests.get(f"{live_server}/api/v1/feed", headers={**auth, "If-None-Match": f'"{etag}"'}, timeout=30)
    assert refused.status_code == 401 and len(seen_by_flask) == 1


def test_tampered_object_is_refused_and_reported(app, make_web, users, province, live_server, store, tmp_path,
                                                 db_session):
    wid = _publish(make_web)
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    audio = next(f for f in package.manifest["files"] if f["role"] == "audio")
    store.put_bytes(audio["key"], b"not the bulletin" * 100)  # someone replaced the object
    token = _endpoint(make_web, province["commune"])
    client = SyncClient(live_server, token, tmp_path / "box")
    result = client.sync()
    assert result.rejected == [audio["sha256"]] and result.holds == []
    assert not client.media_path(audio["sha256"]).exists()
    db_session.expire_all()
    report = db_session.scalar(select(EndpointReport).where(EndpointReport.outcome == "rejected"))
    assert report.file_sha256 == audio["sha256"] and "sha256 mismatch" in report.data["detail"]


def test_resume_keeps_partial_download(app, make_web, users, province, live_server, db_session, store, tmp_path):
    wid = _publish(make_web)
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    audio = next(f for f in package.manifest["files"] if f["role"] == "audio")
    client = SyncClient(live_server, _endpoint(make_web, province["commune"]), tmp_path / "box")
    half = store.get_bytes(audio["key"])[: audio["size"] // 2]
    (tmp_path / "box" / "partial" / f"{audio['sha256']}.part").write_bytes(half)
    assert client.sync().holds == [package.id]
    assert hashlib.sha256(client.media_path(audio["sha256"]).read_bytes()).hexdigest() == audio["sha256"]


def test_tokens_and_reports_validation(app, make_web, users, province, live_server, db_session):
    token = _endpoint(make_web, province["commune"])
    url = f"{live_server}/api/v1"
    assert requests.get(f"{url}/feed", headers={"Authorization": "Bearer ep_wrong"}, timeout=30).status_code == 401
    assert requests.get(f"{url}/feed", timeout=30).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    bad_free = requests.post(f"{url}/reports", json={"reports": [{"id": "h", "type": "heartbeat", "free_bytes": "lots"}]},
                             headers=auth, timeout=30)
    assert bad_free.status_code == 400 and bad_free.json()["error"]["field"] == "reports[0].free_bytes"
    bad = requests.post(f"{url}/reports", data="{not json", headers={**auth, "Content-Type": "application/json"},
                        timeout=30)
    assert bad.status_code == 400
    missing = requests.post(f"{url}/reports", json={"reports": [{"id": "a", "type": "play", "package": 1,
                                                                  "file": "0" * 64, "outcome": "played"}]},
                            headers=auth, timeout=30)
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "reports[0].start"
    big = requests.post(f"{url}/reports", json={"reports": [{"id": str(i), "type": "heartbeat"}
                                                            for i in range(1001)]}, headers=auth, timeout=30)
    assert big.status_code == 413
    play = {"id": "p-1", "type": "play", "package": 1, "file": "a" * 64, "start": "2026-11-23T07:00:00Z",
            "end": "2026-11-23T07:01:00Z", "outcome": "played"}
    never_sent = requests.post(f"{url}/reports", json={"reports": [play]}, headers=auth, timeout=30).json()
    assert never_sent["stored"] == 0 and never_sent["refused"][0]["id"] == "p-1"  # no such package was sent
    beat = {"id": "h-1", "type": "heartbeat", "holds": [], "free_bytes": 10**9}
    assert requests.post(f"{url}/reports", json={"reports": [beat]}, headers=auth, timeout=30).json() == {
        "stored": 1, "duplicates": 0, "refused": []}
    assert requests.post(f"{url}/reports", json={"reports": [beat, beat]}, headers=auth, timeout=30).json() == {
        "stored": 0, "duplicates": 2, "refused": []}
    assert db_session.scalar(select(EndpointReport).where(EndpointReport.client_id == "h-1")).type == "heartbeat"
    admin = _login(make_web, "admin")
    page = admin.post("/admin/endpoints/1/rotate").get_data(as_text=True)
    new = page.split('id="new-endpoint-token">')[1].split("<")[0]
    assert requests.get(f"{url}/feed", headers=auth, timeout=30).status_code == 401  # the old token is gone
    assert requests.get(f"{url}/feed", headers={"Authorization": f"Bearer {new}"}, timeout=30).status_code == 200
    admin.post("/admin/endpoints/1/revoke")
    assert requests.get(f"{url}/feed", headers={"Authorization": f"Bearer {new}"}, timeout=30).status_code == 401
    with pytest.raises(SyncError, match="refused"):
        SyncClient(live_server, new, Path(app.config["INSTANCE"]) / "box").sync()


def test_network_down_keeps_the_last_good_state(app, make_web, users, province, live_server, db_session, tmp_path):
    wid = _publish(make_web)
    token = _endpoint(make_web, province["commune"])
    client = SyncClient(live_server, token, tmp_path / "box")
    held = client.sync().holds
    assert held
    offline = SyncClient("http://127.0.0.1:9", token, tmp_path / "box", timeout=2).sync()
    assert offline.offline and offline.holds == held
    assert len(list((tmp_path / "box" / "media").iterdir())) > 0
    assert (tmp_path / "box" / "state.json").exists() and wid in [i["work_id"] for i in
                                                                  json.loads((tmp_path / "box" / "state.json").read_text())["items"]]


def test_concurrent_publishes_keep_feeds_consistent(app, users, store):
    """Two deliveries at once, then their two static-feed jobs at once, each in its own session and thread: the
    static feed lists both packages (the feed writers serialise on the feeds generation's row)."""
    from sqlalchemy.orm import Session

    from studio.extensions import db
    from studio.services import Caller, feeds, packages, works
    with app.app_context():
        engine = db.engine
    with Session(engine) as s:
        editor = Caller(s.get(User, users["editor"]))
        ids = []
        for title in ("Một", "Hai"):
            w = works.create(s, editor, {"kind": "article", "title": title, "body": "Nội dung."})
            s.flush()
            w.state, w.approved_revision = "approved", w.current_revision
            ids.append(packages.prepare(s, Caller(s.get(User, users["approver"])), w).id)
        s.commit()
        jobs = [s.scalar(select(Job).where(Job.package_id == pid)).id for pid in ids]
    errors = []

    def at_once(step, job_ids):
        barrier = threading.Barrier(len(job_ids))

        def run(job_id):
            try:
                with Session(engine) as s:
                    barrier.wait()
                    step(s, store, s.get(Job, job_id), lambda pct, msg: s.commit())
                    s.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        threads = [threading.Thread(target=run, args=(j,)) for j in job_ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    at_once(packages.deliver, jobs)
    assert errors == []
    with Session(engine) as s:
        work_ids = [s.get(Package, pid).work_id for pid in ids]
        feed_jobs = list(s.scalars(select(Job.id).where(Job.kind == "feeds", Job.work_id.in_(work_ids))))
    assert len(feed_jobs) == 2  # the live feeds changed at commit; the static ones wait for these jobs
    at_once(feeds.rewrite_feeds_job, feed_jobs)
    assert errors == []
    feed = json.loads(store.get_bytes("feeds/portal/all.json"))
    assert sorted(i["package_id"] for i in feed["items"]) == sorted(ids)
    for item in feed["items"]:
        assert store.exists(item["manifest_key"])


def test_object_store_down_during_publish(app, make_web, users, province, tmp_path, db_session):
    """A store of its own, stopped between render and publish: the delivery fails, retries, no feed lists it."""
    from storage.objectstore import ObjectStore
    from storage.seaweed import EmbeddedSeaweed
    from studio.extensions import db
    from studio import jobs
    from studio.services import feeds
    from studio.jobs.worker import resources
    weed = EmbeddedSeaweed(tmp_path / "weed").start()
    try:
        app.extensions["objectstore"] = ObjectStore.from_url(weed.url)
        editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
        wid = new_work(editor, body="Thông báo.", channels="loudspeaker")
        editor.post(f"/works/{wid}/transition", {"action": "submit"})
        approver.post(f"/works/{wid}/transition", {"action": "approve"})
        editor.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]})
        weed.stop()
        assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302
        job = db_session.scalar(select(Job).where(Job.work_id == wid, Job.kind == "publish"))
        package = db_session.get(Package, job.package_id)
        assert job.state == "queued" and job.attempts == 1 and job.error_code == "storage_unavailable"  # retries
        assert job.run_after is not None  # after a backoff
        assert package.state == "queued"
        with app.app_context():
            area = db.session.get(Area, province["commune"])
            assert feeds.feed_query(db.session, "loudspeaker", area) == []
        weed.start()
        app.extensions["objectstore"] = store2 = ObjectStore.from_url(weed.url)
        with app.app_context():
            db.session.get(Job, job.id).run_after = None  # the backoff has passed
            db.session.commit()
            app.extensions["job_resources"].pop("store", None)
            assert jobs.run_here(db.session, [job.id], resources(app)) == ["succeeded"]
            listed = feeds.feed_query(db.session, "loudspeaker", db.session.get(Area, province["commune"]))
            assert [p.id for p, _ in listed] == [package.id]
            for _, files in listed:
                assert all(store2.exists(f["key"]) for f in files)
    finally:
        weed.stop()


def test_expired_url_is_refetched_and_expired_packages_leave_the_feed(app, make_web, users, province, live_server,
                                                                     db_session, tmp_path, monkeypatch):
    from datetime import timedelta

    from studio.extensions import db
    from studio.services import feeds
    wid = _publish(make_web)
    token = _endpoint(make_web, province["commune"])
    monkeypatch.setattr(feeds, "FEED_URL_TTL", timedelta(seconds=1))
    feed = requests.get(f"{live_server}/api/v1/feed", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    import time
    time.sleep(2.5)
    assert requests.get(feed["items"][0]["files"][0]["url"], timeout=30).status_code == 403  # S3 enforces expiry
    client = SyncClient(live_server, token, tmp_path / "box")
    real_fetch = client._fetch_feed

    def slow_fetch(etag, wait=0):  # the box was too slow: its URLs expired before it downloaded
        out = real_fetch(etag, wait)
        time.sleep(2.5)
        return out
    client._fetch_feed = slow_fetch
    late = client.sync()
    assert late.failed and late.holds == []
    client._fetch_feed = real_fetch
    monkeypatch.setattr(feeds, "FEED_URL_TTL", timedelta(hours=1))
    assert client.sync().holds and not client.sync().failed  # a fresh feed, fresh URLs
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    with app.app_context():
        area = db.session.get(Area, province["commune"])
        later = utcnow() + timedelta(days=3)
        assert [p.id for p, _ in feeds.feed_query(db.session, "loudspeaker", area)] == [package.id]
        db.session.get(Package, package.id).valid_until = later - timedelta(days=1)
        db.session.commit()
        assert feeds.feed_query(db.session, "loudspeaker", area, now=later) == []


def test_moving_a_work_to_another_area_updates_both_static_feeds(app, make_web, users, province, store, db_session):
    wid = _publish(make_web, area_ids=str(province["province"]))
    assert [i["work_id"] for i in json.loads(store.get_bytes("feeds/loudspeaker/02.json"))["items"]] == [wid]
    editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
    page = editor.get(f"/works/{wid}/edit").get_data(as_text=True)
    version = page.split('name="version" value="')[1].split('"')[0]
    editor.post(f"/works/{wid}/edit", {"kind": "article", "title": "Thông báo", "body": "Xã Thanh Thủy thông báo.",
                                       "channels": "loudspeaker", "area_ids": str(province["district"]),
                                       "version": version})
    editor.post(f"/works/{wid}/transition", {"action": "submit"})
    approver.post(f"/works/{wid}/transition", {"action": "approve"})
    editor.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]})
    approver.post(f"/works/{wid}/transition", {"action": "publish"})
    assert json.loads(store.get_bytes("feeds/loudspeaker/02.json"))["items"] == []  # the old version left it
    moved = json.loads(store.get_bytes("feeds/loudspeaker/02.030.json"))["items"]
    assert [(i["work_id"], i["version"]) for i in moved] == [(wid, 2)]
    approver.post(f"/works/{wid}/transition", {"action": "retract", "reason": "Hết hiệu lực"})
    assert json.loads(store.get_bytes("feeds/loudspeaker/02.030.json"))["items"] == []
