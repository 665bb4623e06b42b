"""The studio's time zone: forms and the API take local time, the database keeps UTC, pages show labelled local
time, manifests and feeds carry the offset, and the reference client applies time slots in local time."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from storage.models import Package, Work
from endpoint_client import SyncClient
from tests.helpers import new_work
from tests.services.test_distribution import _login


def test_local_time_round_trip_through_form_page_api_and_database(app, web, users, db_session):
    web.login("editor")
    wid = new_work(web, valid_from="2026-11-24T06:00", valid_until="2026-11-30T23:59")
    work = db_session.get(Work, wid)
    # 23:59 in Hà Nội is 16:59 UTC: the database keeps UTC.
    assert (work.valid_from, work.valid_until) == (datetime(2026, 11, 23, 23, 0), datetime(2026, 11, 30, 16, 59))
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "30/11/2026 23:59 (GMT+7)" in page and "24/11/2026 06:00 (GMT+7)" in page
    form = web.get(f"/works/{wid}/edit").get_data(as_text=True)
    assert 'name="valid_until" value="2026-11-30T23:59"' in form  # what the editor typed, not UTC
    from tests.web.test_api import auth, token_for
    api = web.client.get(f"/api/v1/works/{wid}", headers=auth(token_for(web, "editor"))).get_json()
    assert api["valid_until"] == "2026-11-30T23:59+07:00"
    # Saving the form unchanged keeps the times (no drift of 7 hours per save).
    version = form.split('name="version" value="')[1].split('"')[0]
    assert web.post(f"/works/{wid}/edit", {"kind": "article", "title": "Thông báo", "body": "Xã tổ chức tiêm chủng.",
                                           "valid_from": "2026-11-24T06:00", "valid_until": "2026-11-30T23:59",
                                           "version": version}).status_code == 302
    db_session.expire_all()
    assert db_session.get(Work, wid).valid_until == datetime(2026, 11, 30, 16, 59)
    # A time with an offset is taken as it says.
    from studio.extensions import db
    from studio.services import Caller, works
    from storage.models import User
    with app.app_context():
        w = works.update(db.session, Caller(db.session.get(User, users["editor"])), wid,
                         {"valid_until": "2026-11-30T23:59:00Z"}, expected_version=db.session.get(Work, wid).version)
        db.session.commit()
        assert w.valid_until == datetime(2026, 11, 30, 23, 59)


@pytest.mark.slow
def test_manifest_and_feed_carry_the_offset(app, make_web, users, live_server, store, db_session):
    editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
    wid = new_work(editor, body="Thông báo lịch tiêm chủng.", channels="loudspeaker", valid_until="2099-11-30T23:59",
                   time_slots="06:00-06:30")
    assert editor.post(f"/works/{wid}/transition", {"action": "submit"}).status_code == 302
    assert approver.post(f"/works/{wid}/transition", {"action": "approve"}).status_code == 302
    assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    manifest = json.loads(store.get_bytes(package.manifest_key))
    assert manifest["valid_until"] == "2099-11-30T23:59:00+07:00" and manifest["time_zone"] == "Asia/Ho_Chi_Minh"
    assert manifest["published_at"].endswith("+07:00")
    from studio.extensions import db
    from studio.services import Caller, endpoints
    from storage.models import User
    with app.app_context():
        _, token = endpoints.create(db.session, Caller(db.session.get(User, users["admin"])),
                                    {"name": "Loa", "kind": "loudspeaker"})
        db.session.commit()
    import requests
    feed = requests.get(f"{live_server}/api/v1/feed", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    assert feed["time_zone"] == "Asia/Ho_Chi_Minh" and feed["generated_at"].endswith("+07:00")
    assert feed["items"][0]["valid_until"] == "2099-11-30T23:59:00+07:00"


def test_reference_client_applies_time_slots_in_local_time(tmp_path):
    client = SyncClient("http://127.0.0.1:9", "ep_x", tmp_path)
    items = [{"package_id": 1, "time_slots": ["06:00-06:30"], "valid_from": "2026-11-24T00:00:00+07:00",
              "valid_until": "2026-11-30T23:59:00+07:00", "playback": {"ignore_time_slots": False}, "files": []},
             {"package_id": 2, "time_slots": ["06:00-06:30"], "valid_from": None, "valid_until": None,
              "playback": {"ignore_time_slots": True}, "files": []},
             {"package_id": 3, "time_slots": ["22:00-02:00"], "valid_from": None, "valid_until": None,
              "playback": {"ignore_time_slots": False}, "files": []}]
    (tmp_path / "state.json").write_text(json.dumps({"items": items, "time_zone": "Asia/Ho_Chi_Minh"}))

    def ids(utc):
        return [i["package_id"] for i in client.playable(utc.replace(tzinfo=timezone.utc))]
    assert ids(datetime(2026, 11, 24, 23, 10)) == [1, 2]  # 06:10 in Hà Nội on the 25th
    assert ids(datetime(2026, 11, 24, 6, 10)) == [2]      # 13:10 there: only the emergency
    assert ids(datetime(2026, 11, 24, 16, 30)) == [2, 3]  # 23:30 there: inside a slot across midnight
    assert ids(datetime(2026, 11, 30, 23, 10)) == [2]     # 06:10 on 1 December: past its validity
    assert ids(datetime(2026, 11, 23, 16, 30)) == [2, 3]  # before its validity starts
