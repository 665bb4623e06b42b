"""Importing print sources into works through the page: a new revision, pictures as assets, clear refusals."""
from __future__ import annotations

import io

from sqlalchemy import select

from storage.models import Asset, Revision, Work
from tests.helpers import make_png_bomb, new_work
from tests.media_pipeline.test_documents import make_docx, png_bytes


def _post(web, wid, path, name):
    return web.post(f"/works/{wid}/import", {"file": (io.BytesIO(path.read_bytes()), name)},
                    content_type="multipart/form-data")


def test_docx_into_a_publication_keeps_the_old_text(web, users, db_session, tmp_path):
    web.login("editor")
    wid = new_work(web, kind="publication", title="Sổ tay", body="Bản cũ quý giá.")
    r = _post(web, wid, make_docx(tmp_path / "so-tay.docx", png_bytes()), "sổ tay.docx")
    assert r.status_code == 302
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "Đã nhập" in page and "2 chương" in page
    db_session.expire_all()
    work = db_session.get(Work, wid)
    assert [c["title"] for c in work.chapters] == ["Sổ tay phòng chống thiên tai", "Chương 2. Sạt lở"]
    assert "| Sơ tán | Khi có lệnh |" in work.chapters[0]["body"]
    revisions = db_session.scalars(select(Revision).where(Revision.work_id == wid).order_by(Revision.number)).all()
    assert revisions[0].snapshot["body"] == "Bản cũ quý giá." and revisions[-1].note == "imported from sổ tay.docx"
    pics = db_session.scalars(select(Asset).where(Asset.work_id == wid)).all()
    assert len(pics) == 1 and pics[0].kind == "image"


def test_giant_picture_is_skipped_but_the_text_arrives(web, users, db_session, tmp_path):
    web.login("editor")
    wid = new_work(web, title="Tin")
    bomb = make_png_bomb(tmp_path / "bomb.png").read_bytes()
    r = _post(web, wid, make_docx(tmp_path / "a.docx", bomb), "a.docx")
    page = web.get(r.headers["Location"]).get_data(as_text=True)
    assert "không được nhập" in page
    db_session.expire_all()
    assert "Mưa lũ thường đến từ tháng Bảy." in db_session.get(Work, wid).body
    assert db_session.scalars(select(Asset).where(Asset.work_id == wid)).all() == []


def test_scanned_and_locked_pdfs_are_refused_and_nothing_changes(web, users, db_session, tmp_path):
    from PIL import Image
    web.login("editor")
    wid = new_work(web, title="Tin", body="Giữ nguyên.")
    scan = tmp_path / "scan.pdf"
    Image.new("RGB", (600, 800), (250, 250, 250)).save(scan, "PDF")
    r = _post(web, wid, scan, "bản quét.pdf")
    page = web.get(r.headers["Location"]).get_data(as_text=True)
    assert "bản quét.pdf là bản quét không có lớp chữ: cần nhận dạng chữ (OCR)" in page
    api = web.client.post(f"/works/{wid}/import", data={"file": (io.BytesIO(scan.read_bytes()), "x.pdf"),
                                                         "csrf_token": web.token},
                          headers={"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"},
                          content_type="multipart/form-data")
    assert api.status_code == 415 and api.json["error"]["field"] == "file"
    db_session.expire_all()
    assert db_session.get(Work, wid).body == "Giữ nguyên." and db_session.get(Work, wid).current_revision == 1
