"""A commune re-issues last week's notice: two works with identical content both publish, one after the other
or at the same moment, each with a rendition record of its own over the same cached files; retracting one
leaves the other live with its files. Real SeaweedFS, espeak-ng and ffmpeg; the app over HTTP."""
from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select

from storage.models import Package, Rendition
from tests.helpers import new_work
from tests.services.test_distribution import _endpoint, _login, province  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
NOTICE = {"title": "Thông báo lịch tiêm chủng", "body": "Xã Thanh Thủy thông báo lịch tiêm chủng.",
          "channels": "loudspeaker"}


def _approved(make_web, area_id) -> int:
    """A work written, submitted and approved (not yet rendered or published)."""
    editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
    wid = new_work(editor, area_ids=str(area_id), **NOTICE)
    assert editor.post(f"/works/{wid}/transition", {"action": "submit"}).status_code == 302
    assert approver.post(f"/works/{wid}/transition", {"action": "approve"}).status_code == 302
    return wid


def _publish(make_web, wid: int) -> None:
    approver = _login(make_web, "approver")
    assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302


def _check_both_live(make_web, db_session, store, live_server, area_id, first, second):
    db_session.expire_all()
    packages = {p.work_id: p for p in db_session.scalars(select(Package))}
    assert {w: packages[w].state for w in (first, second)} == {first: "published", second: "published"}
    records = {r.work_id: r for r in db_session.scalars(select(Rendition))}
    assert set(records) == {first, second}  # a record each ...
    assert records[first].id != records[second].id
    assert records[first].key == records[second].key  # ... over the same content
    assert [f["key"] for f in records[first].files] == [f["key"] for f in records[second].files]
    files = {w: sorted(f["key"] for f in packages[w].manifest["files"]) for w in (first, second)}
    assert files[first] == files[second] and files[first]

    token = _endpoint(make_web, area_id)
    feed = requests.get(f"{live_server}/api/v1/feed", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert sorted(i["work_id"] for i in feed.json()["items"]) == sorted((first, second))

    approver = _login(make_web, "approver")
    assert approver.post(f"/works/{first}/transition", {"action": "retract", "reason": "Trùng"}).status_code == 302
    feed = requests.get(f"{live_server}/api/v1/feed", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    items = feed.json()["items"]
    assert [i["work_id"] for i in items] == [second]
    for f in items[0]["files"]:  # the other's files stay, and are what the feed says
        assert len(requests.get(f["url"], timeout=30).content) == f["size"]
    for key in files[second]:
        assert store.exists(key)


def test_identical_works_published_one_after_the_other(app, make_web, users, province, live_server, store,
                                                        db_session):
    first = _approved(make_web, province["commune"])
    _publish(make_web, first)
    second = _approved(make_web, province["commune"])
    _publish(make_web, second)
    db_session.expire_all()
    renders = [j for j in db_session.scalars(select(Rendition).where(Rendition.work_id == second))]
    assert renders, "the second work has no rendition record"
    _check_both_live(make_web, db_session, store, live_server, province["commune"], first, second)


def test_identical_works_published_at_the_same_moment(app, make_web, users, province, live_server, store,
                                                      db_session):
    works = [_approved(make_web, province["commune"]) for _ in range(2)]
    start = threading.Barrier(2)
    errors = []

    def publish(wid):  # each request runs its jobs in its own thread (memory:// queue): the renders overlap
        try:
            start.wait(30)
            _publish(make_web, wid)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=publish, args=(w,)) for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    _check_both_live(make_web, db_session, store, live_server, province["commune"], *works)
