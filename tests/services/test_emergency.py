"""The emergency path: publishing renders first and never lists a package without its files; endpoints hear of
a change by long poll; automation clients queue and follow jobs. Real espeak-ng, ffmpeg, S3 and uvicorn."""
from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time

import requests
from sqlalchemy import select

from storage.models import Job, Package, User
from tests.helpers import new_work
from tests.web.test_api import auth, token_for
from tests.jobs.test_jobs import wait_for

BODY = "Lũ quét có thể xảy ra trong đêm nay. Người dân ven suối di chuyển ngay lên chỗ cao."


def publish(make_web, wid: int) -> None:
    """The editor submits, another person approves and publishes, through the pages."""
    ed, ap = make_web(), make_web()
    ed.login("editor")
    assert ed.post(f"/works/{wid}/transition", {"action": "submit"}).status_code == 302
    ap.login("approver")
    assert ap.post(f"/works/{wid}/transition", {"action": "approve"}).status_code == 302
    assert ap.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302


def loudspeaker_token(app) -> str:
    from studio.extensions import db
    from studio.services import Caller, endpoints
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        _, token = endpoints.create(db.session, Caller(admin), {"name": "Loa xã", "kind": "loudspeaker",
                                                                 "languages": "vi"})
        db.session.commit()
    return token


def test_publishing_an_unrendered_emergency_renders_first_then_lists_a_verified_mp3(
        web, make_web, users, db_session, app, live_server, tmp_path):
    web.login("editor")
    wid = new_work(web, title="Cảnh báo lũ quét", body=BODY, priority="emergency", channels=["loudspeaker"])
    assert not db_session.scalars(select(Job).where(Job.work_id == wid)).all()  # nobody rendered it
    publish(make_web, wid)
    jobs = db_session.scalars(select(Job).where(Job.work_id == wid).order_by(Job.id)).all()
    assert [(j.kind, j.profile, j.state, j.rank) for j in jobs] == [
        ("render", "loudspeaker", "succeeded", 0), ("publish", "", "succeeded", 0), ("feeds", "", "succeeded", 0),
        ("sites", "", "succeeded", 0)]
    render, deliver, static_feeds, _sites = jobs
    assert deliver.depends_on == [render.id] and deliver.started_at >= render.finished_at
    assert static_feeds.started_at >= deliver.finished_at  # static feeds after the package is live, not before
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    assert package.state == "published" and package.channels == ["loudspeaker"]
    assert package.manifest["playback"] == {"level": "emergency", "interrupt": True, "play_immediately": True,
                                            "ignore_time_slots": True}
    token = loudspeaker_token(app)
    feed = requests.get(f"{live_server}/api/v1/feed", headers=auth(token), timeout=30).json()
    (item,) = feed["items"]
    assert item["playback"]["interrupt"] is True
    (mp3,) = [f for f in item["files"] if f["role"] == "audio"]
    assert [f["mime"] for f in item["files"] if f["role"] == "cap"] == ["application/cap+xml"]  # test_cap.py
    data = requests.get(mp3["url"], timeout=30).content
    assert hashlib.sha256(data).hexdigest() == mp3["sha256"] and len(data) == mp3["size"]
    (tmp_path / "got.mp3").write_bytes(data)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration",
                            "-of", "json", str(tmp_path / "got.mp3")], capture_output=True, check=True)
    info = json.loads(probe.stdout)
    assert info["streams"][0]["codec_name"] == "mp3" and float(info["format"]["duration"]) > 3


def test_a_package_never_enters_a_feed_without_its_files(web, make_web, users, db_session, app, live_server):
    web.login("editor")
    # H'Mông has no voice here: the loudspeaker file cannot be made.
    wid = new_work(web, title="Thông báo", body=BODY, source_language="hmn", priority="emergency",
                   channels=["loudspeaker"])
    publish(make_web, wid)
    render, deliver = db_session.scalars(select(Job).where(Job.work_id == wid).order_by(Job.id)).all()
    assert render.state == "failed" and render.error_code == "no_voice"
    assert deliver.state == "failed" and deliver.error_code == "validation_error"
    assert "loudspeaker" in deliver.error and "hmn" in deliver.error
    assert db_session.scalar(select(Package).where(Package.work_id == wid)).state == "queued"
    token = loudspeaker_token(app)
    assert requests.get(f"{live_server}/api/v1/feed", headers=auth(token), timeout=30).json()["items"] == []
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "nên gói chưa được phát hành" in page  # the reason, in Vietnamese


def test_feed_long_poll_answers_on_change_and_at_its_timeout(web, make_web, users, app, live_server):
    token = loudspeaker_token(app)
    first = requests.get(f"{live_server}/api/v1/feed", headers=auth(token), timeout=30)
    etag = first.headers["ETag"]
    headers = {**auth(token), "If-None-Match": etag}
    started = time.monotonic()
    idle = requests.get(f"{live_server}/api/v1/feed", params={"wait": 2}, headers=headers, timeout=30)
    assert idle.status_code == 304 and time.monotonic() - started >= 1.5  # it waited, then said "unchanged"
    bad = requests.get(f"{live_server}/api/v1/feed", params={"wait": "soon"}, headers=headers, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "wait"
    answer = {}

    def poll():
        t0 = time.monotonic()
        r = requests.get(f"{live_server}/api/v1/feed", params={"wait": 50}, headers=headers, timeout=90)
        answer.update(status=r.status_code, body=r.json() if r.status_code == 200 else None,
                      waited=time.monotonic() - t0)
    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(1)
    web.login("editor")
    wid = new_work(web, title="Cảnh báo", body=BODY, priority="emergency", channels=["loudspeaker"])
    publish(make_web, wid)
    waiter.join(timeout=90)
    assert answer["status"] == 200 and [i["work_id"] for i in answer["body"]["items"]] == [wid]
    assert answer["waited"] < 50  # answered on the change, not at the timeout


def test_waiting_endpoints_hold_no_threads(users, app, live_server):
    """More endpoints wait than the server has threads (4 here), and an editor's request is still answered."""
    token = loudspeaker_token(app)
    etag = requests.get(f"{live_server}/api/v1/feed", headers=auth(token), timeout=30).headers["ETag"]
    results = []

    def wait():
        r = requests.get(f"{live_server}/api/v1/feed", params={"wait": 6},
                         headers={**auth(token), "If-None-Match": etag}, timeout=60)
        results.append(r.status_code)
    waiters = [threading.Thread(target=wait) for _ in range(40)]
    for t in waiters:
        t.start()
    time.sleep(1.5)
    page = requests.get(f"{live_server}/login", timeout=4)  # with a thread per waiter this would wait 6 s
    assert page.status_code == 200
    assert len(results) == 0  # every endpoint was still waiting while the page was served
    for t in waiters:
        t.join(timeout=60)
    assert results == [304] * 40


def test_automation_client_queues_follows_and_cancels_jobs(web, make_web, users, db_session):
    ed = token_for(make_web(), "editor")
    wid = web.client.post("/api/v1/works", json={"kind": "article", "title": "Bản tin", "body": BODY},
                          headers=auth(ed)).json["id"]
    r = web.client.post(f"/api/v1/works/{wid}/renders", json={"channels": ["loudspeaker"], "languages": ["vi"]},
                        headers=auth(ed))
    assert r.status_code == 202
    (job_id,) = r.json["jobs"]
    job = web.client.get(f"/api/v1/jobs/{job_id}", headers=auth(ed)).json
    assert job["state"] == "succeeded" and job["profile"] == "loudspeaker" and job["error"] is None
    listed = web.client.get(f"/api/v1/works/{wid}/jobs", headers=auth(ed)).json["items"]
    assert [j["id"] for j in listed] == [job_id]
    ended = web.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(ed))
    assert ended.status_code == 409
    bad = web.client.post(f"/api/v1/works/{wid}/renders", json={"channels": "loudspeaker"}, headers=auth(ed))
    assert bad.status_code == 400 and bad.json["error"]["field"] == "channels"
    unknown = web.client.post(f"/api/v1/works/{wid}/renders", json={"channels": ["fax"]}, headers=auth(ed))
    assert unknown.status_code == 400 and unknown.json["error"]["field"] == "channels[0]"
    failed = web.client.post(f"/api/v1/works/{wid}/renders", json={"languages": ["hmn"]}, headers=auth(ed))
    assert failed.status_code == 400  # no approved translation into hmn
    assert web.client.get("/api/v1/jobs/999999", headers=auth(ed)).status_code == 404
    spec = web.client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/works/{work_id}/renders", "/api/v1/jobs/{job_id}", "/api/v1/works/{work_id}/jobs",
                 "/api/v1/jobs/{job_id}/cancel"):
        assert path in spec


def test_feed_changes_are_announced_over_mqtt_to_authenticated_endpoints_only(tmp_path, store_url, model_cache):
    """A real mosquitto (Debian's), embedded as `studio serve` starts it: anonymous clients are refused,
    endpoints may only listen, and a publish is announced on the areas' topics."""
    import paho.mqtt.client as paho
    from flask_migrate import upgrade

    from studio import create_app, mqtt
    from studio.web.serving import serve_in_thread
    broker = mqtt.EmbeddedMosquitto(tmp_path / "mqtt").start()
    server = None
    try:
        app = create_app({"TESTING": True,
                          "S3_URL": store_url, "QUEUE_URL": "memory://", "MODEL_CACHE": model_cache,
                          "MQTT_URL": broker.url("studio"), "WHISPER_MODEL": ""},
                         environ={"STUDIO_INSTANCE": str(tmp_path / "instance")})
        with app.app_context():
            upgrade()
        from tests.helpers import PASSWORD, Web
        from studio.extensions import db
        from studio.services import Caller, accounts
        with app.app_context():
            for name, roles in (("editor", ["editor"]), ("approver", ["approver"])):
                accounts.create_user(db.session, Caller(None), name, PASSWORD, roles, system=True)
            db.session.commit()
        url, server, thread = serve_in_thread(app)
        heard, connected = [], threading.Event()
        listener = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="loa-xa")
        listener.username_pw_set("endpoint", broker.credentials["endpoint"])
        listener.on_connect = lambda c, *_a: (c.subscribe("studio/feeds/#", qos=1), connected.set())
        listener.on_message = lambda _c, _u, msg: heard.append((msg.topic, json.loads(msg.payload)))
        listener.connect("127.0.0.1", broker.port)
        listener.loop_start()
        assert connected.wait(10)
        anonymous = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="stranger")
        refused = []
        anonymous.on_connect = lambda _c, _u, _f, rc, _p: refused.append(rc)
        anonymous.connect("127.0.0.1", broker.port)
        anonymous.loop_start()
        wait_for(lambda: refused, 30, "the broker's answer to an anonymous client")
        anonymous.loop_stop()
        assert refused[0].is_failure  # not authorised
        # An endpoint's account cannot announce anything itself.
        forger = mqtt.client(broker.url("endpoint"))
        forger.publish("studio/feeds/all", json.dumps({"generation": 999}), qos=1).wait_for_publish(5)
        forger.loop_stop()
        time.sleep(0.5)
        assert heard == []
        web = Web(app.test_client())
        web.login("editor")
        wid = new_work(web, title="Cảnh báo", body=BODY, priority="emergency", channels=["loudspeaker"])
        publish(lambda: Web(app.test_client()), wid)
        wait_for(lambda: heard, 30, "the announcement")
        topic, body = heard[0]
        assert topic == "studio/feeds/all" and body["priority"] == "emergency" and body["generation"] >= 1
        listener.loop_stop()
    finally:
        if server is not None:
            server.stop()
        broker.stop()

