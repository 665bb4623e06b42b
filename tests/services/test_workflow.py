"""Editorial workflow: states, who may do what, approving one's own work, edits after approval."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import AuditEvent, Package, Work
from tests.helpers import new_work


def act(web, wid, action, **extra):
    data = {"action": action}
    data.update(extra)
    return web.post(f"/works/{wid}/transition", data)


def test_full_cycle(web, make_web, users, db_session):
    web.login("editor")
    wid = new_work(web)
    assert act(web, wid, "submit").status_code == 302
    approver = make_web()
    approver.login("approver")
    assert act(approver, wid, "approve").status_code == 302
    assert act(approver, wid, "publish").status_code == 302
    work = db_session.get(Work, wid)
    assert work.state == "published" and work.published_revision == 1 and work.approved_by_id == users["approver"]
    assert act(approver, wid, "retract").status_code == 400  # a reason is required
    assert act(approver, wid, "retract", reason="Sai thông tin").status_code == 302
    db_session.expire_all()
    assert db_session.get(Work, wid).state == "retracted"
    actions = [e.action for e in db_session.scalars(select(AuditEvent).where(AuditEvent.target_type == "work",
                                                                           AuditEvent.target_id == str(wid))
                                                     .order_by(AuditEvent.id))]
    assert actions == ["work.create", "work.submit", "work.approve", "work.publish", "package.retract",
                       "work.retract"]
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    assert (package.state, package.retract_reason, package.retracted_by_id) == ("retracted", "Sai thông tin",
                                                                                users["approver"])


def test_changes_requested_returns_to_draft(web, make_web, users, db_session):
    web.login("editor")
    wid = new_work(web)
    act(web, wid, "submit")
    approver = make_web()
    approver.login("approver")
    assert act(approver, wid, "request_changes", reason="Thêm nguồn").status_code == 302
    assert db_session.get(Work, wid).state == "draft"
    ev = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "work.request_changes")).one()
    assert ev.detail["reason"] == "Thêm nguồn"


def test_approver_cannot_approve_own_work(web, users, db_session):
    web.login("chief")  # editor and approver at once
    wid = new_work(web)
    act(web, wid, "submit")
    resp = act(web, wid, "approve")
    assert resp.status_code == 403
    assert "không thể duyệt" in resp.get_data(as_text=True)
    assert db_session.get(Work, wid).state == "submitted"


def test_role_may_not_make_transition(web, make_web, users, db_session):
    web.login("editor")
    wid = new_work(web)
    act(web, wid, "submit")
    assert act(web, wid, "approve").status_code == 403          # editors do not approve
    tr = make_web()
    tr.login("translator")
    assert act(tr, wid, "submit").status_code == 403
    assert act(web, wid, "publish").status_code == 403
    assert db_session.get(Work, wid).state == "submitted"


def test_transition_from_wrong_state_is_conflict(web, make_web, users):
    web.login("editor")
    wid = new_work(web)
    approver = make_web()
    approver.login("approver")
    resp = act(approver, wid, "publish")
    assert resp.status_code == 409


def test_editing_published_work_keeps_published_revision(web, make_web, users, db_session):
    web.login("editor")
    wid = new_work(web, body="Bản đã xuất bản")
    act(web, wid, "submit")
    approver = make_web()
    approver.login("approver")
    act(approver, wid, "approve")
    act(approver, wid, "publish")
    version = db_session.get(Work, wid).version
    resp = web.post(f"/works/{wid}/edit", {"kind": "article", "title": "Thông báo lịch tiêm chủng",
                                            "body": "Bản sửa mới", "version": str(version)})
    assert resp.status_code == 302
    db_session.expire_all()
    work = db_session.get(Work, wid)
    assert work.state == "draft" and work.current_revision == 2 and work.published_revision == 1
    published = [r for r in work.revisions if r.number == work.published_revision][0]
    assert published.snapshot["body"] == "Bản đã xuất bản"
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "Người đọc vẫn nhận bản r1" in page
    # The new draft goes through approval again, then replaces the published revision.
    act(web, wid, "submit")
    act(approver, wid, "approve")
    act(approver, wid, "publish")
    db_session.expire_all()
    assert db_session.get(Work, wid).published_revision == 2


def test_stale_transition_is_refused(web, make_web, users, db_session):
    web.login("editor")
    wid = new_work(web)
    resp = web.post(f"/works/{wid}/transition", {"action": "submit", "version": "99"})
    assert resp.status_code == 409
    assert db_session.get(Work, wid).state == "draft"
