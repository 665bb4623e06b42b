"""Authoring: fields, sanitised body, revisions, diff, restore, concurrent edits, search."""
from __future__ import annotations

from tests.helpers import new_work


def test_create_and_view_with_all_fields(web, users, app):
    from storage.models import User
    from studio.extensions import db
    from studio.services import Caller, areas
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        province = areas.create(db.session, admin, "11", "Cao Bằng", "province", None)
        db.session.commit()
        pid = province.id
    web.login("editor")
    wid = new_work(web, title="Cảnh báo lũ quét", summary="Tóm tắt", body="# Tiêu đề\n\nNội dung **đậm**.",
                   topics="thiên tai, lũ", channels=["loudspeaker", "eboard"], priority="emergency",
                   valid_from="2026-11-22T06:00", valid_until="2026-11-30T18:00", time_slots="06:00-06:30, 17:00-17:30",
                   area_ids=[str(pid)], kind="radio_bulletin")
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "Cảnh báo lũ quét" in page and "<strong>đậm</strong>" in page
    assert "Cao Bằng" in page and "06:00-06:30, 17:00-17:30" in page and "Khẩn cấp" in page


def test_script_in_body_is_removed(web, users):
    web.login("editor")
    wid = new_work(web, body='Xin chào <script>alert(1)</script> <a href="javascript:alert(2)">bấm</a> '
                             '<img src=x onerror="alert(3)">')
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    body = page.split('<article class="body">')[1].split("</article>")[0]
    assert "<script" not in body and "javascript:" not in body and "onerror" not in body
    assert "Xin chào" in body


def test_bad_fields_get_clear_messages_and_the_text_is_kept(web, users):
    web.login("editor")
    resp = web.post("/works/new", {"kind": "article", "title": "", "body": "Nội dung quý giá"})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "Tiêu đề là bắt buộc" in page and "Nội dung quý giá" in page
    resp = web.post("/works/new", {"kind": "article", "title": "T", "time_slots": "25:00-26:00"})
    assert resp.status_code == 400 and "25:00-26:00" in resp.get_data(as_text=True)
    resp = web.post("/works/new", {"kind": "article", "title": "T", "valid_from": "2026-12-01T00:00",
                                   "valid_until": "2026-11-01T00:00"})
    assert resp.status_code == 400
    resp = web.post("/works/new", {"kind": "article", "title": "T", "source_language": "xyz"})
    assert resp.status_code == 400
    assert "Ngôn ngữ xyz chưa có trong danh mục; quản trị viên có thể thêm." in resp.get_data(as_text=True)


def _edit(web, wid, version, **fields):
    data = {"kind": "article", "title": "Thông báo lịch tiêm chủng", "body": "Xã tổ chức tiêm chủng.",
            "source_language": "vi", "priority": "normal", "version": str(version)}
    data.update(fields)
    return web.post(f"/works/{wid}/edit", data)


def test_every_save_is_a_revision_with_diff_and_restore(web, users, db_session):
    from storage.models import Work
    web.login("editor")
    wid = new_work(web, body="Dòng một\nDòng hai")
    assert _edit(web, wid, 1, body="Dòng một\nDòng hai đã sửa").status_code == 302
    assert _edit(web, wid, 2, body="Dòng một\nDòng hai đã sửa\nDòng ba", title="Tiêu đề mới").status_code == 302
    work = db_session.get(Work, wid)
    assert [r.number for r in work.revisions] == [1, 2, 3] and work.title == "Tiêu đề mới"
    diff = web.get(f"/works/{wid}/revisions?a=1&b=3").get_data(as_text=True)
    assert '<span class="del">-Dòng hai</span>' in diff and '<span class="add">+Dòng ba</span>' in diff
    assert web.get(f"/works/{wid}/revisions/1").status_code == 200
    assert web.post(f"/works/{wid}/revisions/1/restore", {"version": "3"}).status_code == 302
    db_session.expire_all()
    work = db_session.get(Work, wid)
    assert work.current_revision == 4 and work.body == "Dòng một\nDòng hai" and work.title.startswith("Thông báo")
    assert work.revisions[-1].note == "restore r1"


def test_saving_unchanged_work_makes_no_revision(web, users, db_session):
    from storage.models import Work
    web.login("editor")
    wid = new_work(web)
    assert _edit(web, wid, 1).status_code == 302
    assert db_session.get(Work, wid).current_revision == 1


def test_two_editors_saving_at_once_the_later_is_told(web, make_web, users, db_session):
    from storage.models import Work
    web.login("editor")
    wid = new_work(web)
    other = make_web()
    other.login("editor2")
    # Both opened version 1. The first save wins; the second is refused with its text shown back.
    assert _edit(web, wid, 1, body="Bản của biên tập viên 1").status_code == 302
    resp = _edit(other, wid, 1, body="Bản của biên tập viên 2")
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "Bản của biên tập viên 2" in page and "Editor" in page
    work = db_session.get(Work, wid)
    assert work.body == "Bản của biên tập viên 1" and work.current_revision == 2


def test_search_filters_and_pagination(web, users, app):
    web.login("editor")
    for i in range(23):
        new_work(web, title=f"Bản tin số {i}", kind="radio_bulletin" if i % 2 else "article")
    new_work(web, title="Tin tiếng Anh", source_language="en")
    page = web.get("/works?kind=radio_bulletin").get_data(as_text=True)
    assert "(11)" in page
    assert "(1)" in web.get("/works?language=en").get_data(as_text=True)
    assert "(1)" in web.get("/works?q=số 17").get_data(as_text=True)
    first = web.get("/works").get_data(as_text=True)
    assert "Trang 1 / 2" in first
    assert "Bản tin số 0<" in web.get("/works?page=2").get_data(as_text=True)
    assert "(24)" in web.get("/works?author=editor").get_data(as_text=True)
    assert "(0)" in web.get("/works?author=editor2").get_data(as_text=True)


def test_publication_with_chapters_and_metadata(web, users, db_session):
    from storage.models import Work
    web.login("editor")
    wid = new_work(web, kind="publication", title="Sổ tay phòng chống thiên tai",
                   meta_publisher="NXB Thông tin và Truyền thông", meta_isbn="978-604-80-0000-4",
                   chapter_title=["Chương 1", "Chương 2"], chapter_body=["Nội dung 1", "Nội dung 2"])
    work = db_session.get(Work, wid)
    assert [c["title"] for c in work.chapters] == ["Chương 1", "Chương 2"]
    assert work.meta["publisher"] == "NXB Thông tin và Truyền thông"
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "Chương 2" in page and "978-604-80-0000-4" in page


def test_missing_work_is_404(web, users):
    web.login("editor")
    resp = web.get("/works/999")
    assert resp.status_code == 404 and "999" in resp.get_data(as_text=True)


def test_bad_date_is_named(web, users):
    web.login("editor")
    resp = web.post("/works/new", {"kind": "article", "title": "T", "valid_from": "ngày mai"})
    assert resp.status_code == 400 and "valid_from không phải ngày giờ" in resp.get_data(as_text=True)
