"""Administration: users and roles, areas, the audit log with filters and CSV."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select

from storage.models import Area, AuditEvent, User
from tests.helpers import new_work


def test_admin_creates_user_and_changes_roles(web, make_web, users, db_session):
    web.login("admin")
    resp = web.post("/admin/users", {"username": "nguyen.van.a", "display_name": "Nguyễn Văn A",
                                     "password": "mật khẩu đủ dài", "roles": ["translator"]})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    uid = db_session.scalar(select(User.id).where(User.username == "nguyen.van.a"))
    assert web.post(f"/admin/users/{uid}", {"display_name": "Nguyễn Văn A", "roles": ["translator", "editor"],
                                             "active": "on"}).status_code == 302
    db_session.expire_all()
    assert db_session.get(User, uid).role_set == {"translator", "editor"}
    ev = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "user.roles")).one()
    assert ev.detail["changes"]["roles"] == ["translator", "editor,translator"]
    newcomer = make_web()
    assert newcomer.login("nguyen.van.a", "mật khẩu đủ dài").status_code == 302


def test_user_form_errors(web, users):
    web.login("admin")
    resp = web.post("/admin/users", {"username": "x", "password": "short", "roles": ["editor"]})
    assert resp.status_code == 400 and "Tên đăng nhập" in resp.get_data(as_text=True)
    resp = web.post("/admin/users", {"username": "editor", "password": "long enough pw", "roles": ["editor"]})
    assert "đã có người dùng" in resp.get_data(as_text=True)
    resp = web.post(f"/admin/users/{users['admin']}", {"roles": ["editor"], "active": "on"})
    assert "vai trò quản trị" in resp.get_data(as_text=True)


def test_area_tree_with_optional_district(web, users, db_session):
    web.login("admin")
    assert web.post("/admin/areas", {"code": "20", "name": "Lạng Sơn", "level": "province"}).status_code == 302
    pid = db_session.scalar(select(Area.id).where(Area.code == "20"))
    assert web.post("/admin/areas", {"code": "20.178", "name": "Huyện Cao Lộc", "level": "district",
                                     "parent_id": str(pid)}).status_code == 302
    did = db_session.scalar(select(Area.id).where(Area.code == "20.178"))
    assert web.post("/admin/areas", {"code": "06100", "name": "Xã Đồng Đăng", "level": "commune",
                                     "parent_id": str(did)}).status_code == 302
    assert web.post("/admin/areas", {"code": "06200", "name": "Xã Tân Thanh", "level": "commune",
                                     "parent_id": str(pid)}).status_code == 302
    bad = web.post("/admin/areas", {"code": "X1", "name": "Sai", "level": "province", "parent_id": str(pid)})
    assert "phải nằm trong" in bad.get_data(as_text=True)
    commune = db_session.scalar(select(Area).where(Area.code == "06100"))
    assert [a.code for a in commune.ancestors()] == ["20.178", "20"]
    page = web.get("/admin/areas").get_data(as_text=True)
    assert page.index("Lạng Sơn") < page.index("Huyện Cao Lộc") < page.index("Xã Đồng Đăng")


def test_audit_log_filter_and_csv(web, make_web, users):
    editor = make_web()
    editor.login("editor")
    wid = new_work(editor)
    editor.post(f"/works/{wid}/transition", {"action": "submit"})
    web.login("admin")
    page = web.get("/admin/audit?action=work.&target_id=" + str(wid)).get_data(as_text=True)
    assert "work.create" in page and "work.submit" in page and "login" not in page.split("<table")[1]
    resp = web.get("/admin/audit.csv?username=editor")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert {r["action"] for r in rows} == {"login", "work.create", "work.submit"}
    assert all(r["username"] == "editor" and r["ip"] == "127.0.0.1" for r in rows)
    assert any("Thông báo lịch tiêm chủng" in r["detail"] for r in rows)
