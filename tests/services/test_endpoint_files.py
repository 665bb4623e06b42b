"""Endpoints get files made for them: their display, their languages; endpoints drive what is rendered.

Real renders (espeak-ng, ffmpeg) into the real embedded S3; sizes are measured with ffprobe on what the feed
serves, not read from our records.
"""
from __future__ import annotations

import json
import subprocess

import pytest
import requests
from sqlalchemy import select

from storage.models import Area, Package, Rendition, User
from tests.helpers import new_work
from tests.services.feed_cases import check_feed_query
from tests.services.test_distribution import _login, province  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.slow


def test_one_feed_query_on_sqlite(app, users, store):
    """The live feed, the static feeds and the admin's endpoint page list the same (one query)."""
    from studio.extensions import db
    from studio.services import Caller, endpoints, feeds
    with app.app_context():
        check_feed_query(db.session, store)
        commune = db.session.scalar(select(Area).where(Area.code == "02.030.00961"))
        ep, _ = endpoints.create(db.session, Caller(db.session.get(User, users["admin"])),
                                 {"name": "LED", "kind": "eboard", "display": "384x192", "area_id": str(commune.id)})
        should = endpoints.status(db.session, ep)["should"]
        assert len(should) == 2
        assert should == [p.id for p, _ in feeds.feed_query(db.session, "eboard", commune, "384x192")]


def _register(make_web, **fields) -> str:
    admin = _login(make_web, "admin")
    resp = admin.post("/admin/endpoints", fields)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="new-endpoint-token">' in page, page[-2000:]
    return page.split('id="new-endpoint-token">')[1].split("<")[0]


def _feed(live_server, token) -> list[dict]:
    r = requests.get(f"{live_server}/api/v1/feed", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200
    return r.json()["items"]


def _measure(url: str, tmp_path) -> tuple[int, int]:
    local = tmp_path / "probe.bin"
    local.write_bytes(requests.get(url, timeout=60).content)
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "json", str(local)], capture_output=True, text=True, check=True)
    s = json.loads(out.stdout)["streams"][0]
    return s["width"], s["height"]


def test_endpoints_drive_renders_and_get_only_their_size_and_languages(app, make_web, users, province, live_server,
                                                                         db_session, tmp_path):
    commune = str(province["commune"])
    led = _register(make_web, name="Bảng LED xã", kind="eboard", area_id=commune, display="384x192")
    speaker_vi = _register(make_web, name="Loa xã", kind="loudspeaker", area_id=commune, languages="vi")
    speaker_tay = _register(make_web, name="Loa thôn Tày", kind="loudspeaker", area_id=commune, languages="tyz")
    # Bad displays are refused in the user's language, naming the field.
    admin = _login(make_web, "admin")
    bad = admin.post("/admin/endpoints", {"name": "x", "kind": "eboard", "display": "385x193"})
    assert bad.status_code == 400 and "385x193" in bad.get_data(as_text=True)
    assert admin.post("/admin/endpoints", {"name": "x", "kind": "loudspeaker", "display": "384x192"}).status_code == 400

    editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
    wid = new_work(editor, body="Xã Thanh Thủy thông báo lịch tiêm chủng tuần này.",
                   channels=["loudspeaker", "eboard"], area_ids=str(province["province"]))
    assert editor.post(f"/works/{wid}/transition", {"action": "submit"}).status_code == 302
    assert approver.post(f"/works/{wid}/transition", {"action": "approve"}).status_code == 302
    assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302
    made = {(r.language, r.profile) for r in db_session.scalars(select(Rendition).where(Rendition.work_id == wid))}
    # The channels' defaults and the LED board's size, without anybody asking for it.
    assert made == {("vi", "loudspeaker"), ("vi", "eboard-1080p"), ("vi", "eboard-led-384x192")}

    items = _feed(live_server, led)
    assert [i["work_id"] for i in items] == [wid]
    videos = [f for f in items[0]["files"] if f["role"] in ("video", "still")]
    assert videos and all((f["width"], f["height"]) == (384, 192) for f in items[0]["files"])
    for f in videos:
        assert _measure(f["url"], tmp_path) == (384, 192)
    speaker_files = _feed(live_server, speaker_vi)[0]["files"]
    assert [(f["language"], f["mime"]) for f in speaker_files] == [("vi", "audio/mpeg")]
    assert _feed(live_server, speaker_tay) == []  # nothing in Tày was approved: nothing to play

    # An e-board registered later, at a size nothing was made for: no file of another size reaches it, and the
    # work page says what it lacks. Publishing again renders it.
    late = _register(make_web, name="Bảng huyện", kind="eboard", area_id=str(province["district"]),
                     display="1280x720")
    assert _feed(live_server, late) == []
    page = editor.get(f"/works/{wid}").get_data(as_text=True)
    assert '<tr class="lacking"><td>Bảng huyện</td>' in page
    assert "eboard-1280x720 [vi]" in page.split("Bảng huyện")[1].split("</tr>")[0]
    assert '<tr class="lacking"><td>Loa thôn Tày</td>' in page and '<tr class="covered"><td>Loa xã</td>' in page
    assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302
    versions = db_session.scalars(select(Package.version).where(Package.work_id == wid,
                                                                Package.state == "published")).all()
    assert versions == [2]
    items = _feed(live_server, late)
    assert [i["version"] for i in items] == [2]
    video = next(f for f in items[0]["files"] if f["role"] == "video")
    assert (video["width"], video["height"]) == (1280, 720) and _measure(video["url"], tmp_path) == (1280, 720)
    page = editor.get(f"/works/{wid}").get_data(as_text=True)
    assert '<tr class="covered"><td>Bảng huyện</td>' in page and '<tr class="covered"><td>Bảng LED xã</td>' in page
