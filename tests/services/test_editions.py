"""A publication rendered as EPUB, narrated EPUB and PDF by the job pipeline, in the source language and in an
approved translation; checked with epubcheck and poppler."""
from __future__ import annotations

import io
import re
import subprocess
import zipfile

import pytest
from sqlalchemy import select

from storage.models import Job, Rendition, User
from tests.helpers import make_png, new_work
from tests.media_pipeline.test_publication import epubcheck

pytestmark = pytest.mark.slow


def _files(store, db_session, wid, tmp_path, language="vi"):
    out = {}
    for r in db_session.scalars(select(Rendition).where(Rendition.work_id == wid, Rendition.language == language)):
        f = r.files[0]
        path = tmp_path / f"{r.profile}-{language}.{f['key'].rsplit('.', 1)[-1]}"
        store.download(f["key"], path)
        out[r.profile] = (r, path)
    return out


def test_publication_editions(app, web, users, db_session, store, tmp_path):
    web.login("editor")
    # A mistyped ISBN is refused when typed, in the editor's language (it would drop out of the files).
    typo = web.post("/works/new", {"kind": "publication", "title": "Sổ tay", "source_language": "vi",
                                   "priority": "normal", "meta_isbn": "978-604-0-00000-3"})
    assert typo.status_code == 400 and "ISBN 978-604-0-00000-3 không hợp lệ" in typo.get_data(as_text=True)
    wid = new_work(web, kind="publication", title="Sổ tay phòng chống thiên tai", summary="",
                   body="", channels="epub", meta_publisher="NXB Thông tin", meta_authors="Nguyễn Văn A, Lò Thị B",
                   meta_isbn="978-604-0-00000-2", meta_licence="CC BY 4.0", meta_edition="Tái bản lần thứ hai",
                   chapter_title=["Chương 1. Bão và lũ quét", "Chương 2. Sạt lở đất"],
                   chapter_body=["Bão thường đến từ tháng Bảy.\nKhi nghe loa báo động, bà con di chuyển lên vùng cao.",
                                 "Không dựng nhà sát chân đồi dốc. Theo dõi vết nứt sau mưa lớn."])
    pic = make_png(tmp_path / "bia.png", (600, 900), (30, 110, 60))
    with open(pic, "rb") as f:
        web.post(f"/works/{wid}/assets", {"file": (io.BytesIO(f.read()), "bìa.png")}, content_type="multipart/form-data")
    assert web.post(f"/works/{wid}/render", {"channels": ["epub"]}).status_code == 302
    jobs = db_session.scalars(select(Job).where(Job.work_id == wid)).all()
    assert sorted(j.profile for j in jobs) == ["epub", "epub-narrated", "pdf"]
    assert all(j.state == "succeeded" for j in jobs), [j.error for j in jobs]
    files = _files(store, db_session, wid, tmp_path)
    for name in ("epub", "epub-narrated"):
        check = epubcheck(files[name][1])
        assert check.returncode == 0, check.stdout
    with zipfile.ZipFile(files["epub-narrated"][1]) as z:
        smil = "".join(z.read(n).decode() for n in sorted(z.namelist()) if n.endswith(".smil"))
        opf = z.read("EPUB/package.opf").decode()
        assert any(n.startswith("EPUB/images/picture-") for n in z.namelist())
    narrated = files["epub-narrated"][0]
    clips = [(float(a), float(b)) for a, b in re.findall(r'clipBegin="([\d.]+)s" clipEnd="([\d.]+)s"', smil)]
    assert clips == sorted(clips) and all(0 <= a < b <= narrated.duration_s + 0.01 for a, b in clips)
    assert len(clips) == 6  # the book title is metadata; both chapter titles and four sentences are read
    assert "<dc:creator>Lò Thị B</dc:creator>" in opf and "<dc:language>vi</dc:language>" in opf
    # ISBN, publisher and edition in the EPUB's metadata (the ISBN as the edition's second identifier) ...
    assert '<dc:identifier id="isbn">urn:isbn:9786040000002</dc:identifier>' in opf
    assert "<dc:publisher>NXB Thông tin</dc:publisher>" in opf
    assert '<meta property="schema:bookEdition">Tái bản lần thứ hai</meta>' in opf

    def pdf_text(*pages):
        return " ".join(subprocess.run(["pdftotext", "-enc", "UTF-8", *pages, str(files["pdf"][1]), "-"],
                                       capture_output=True, text=True, check=True).stdout.split())
    text = pdf_text()
    assert "Khi nghe loa báo động, bà con di chuyển lên vùng cao." in text and "NXB Thông tin" in text
    # ... and on the PDF's imprint page, the page after the title page.
    assert pdf_text("-f", "2", "-l", "2") == "NXB Thông tin Tái bản lần thứ hai ISBN 978-604-0-00000-2 CC BY 4.0"

    # An approved English translation makes an English edition, with the language set throughout.
    from studio.extensions import db
    from studio.services import Caller, translations
    with app.app_context():
        tr = Caller(db.session.get(User, users["translator"]))
        t, _job = translations.start(db.session, tr, wid, "en")
        english = ["Disaster handbook", "Chapter 1. Storms and flash floods", "Storms usually come from July.",
                   "When the loudspeaker sounds the alarm, move to high ground.", "Chapter 2. Landslides",
                   "Do not build at the foot of steep hills.", "Watch for cracks after heavy rain."]
        assert len(t.segments) == len(english)
        for i, target in enumerate(english):
            translations.save_segment(db.session, tr, wid, "en", i, target, approve=True)
        translations.approve(db.session, Caller(db.session.get(User, users["approver"])), wid, "en")
        db.session.commit()
    web.post(f"/works/{wid}/render", {"channels": ["epub"], "languages": ["en"]})
    en = _files(store, db_session, wid, tmp_path, "en")
    assert epubcheck(en["epub"][1]).returncode == 0
    with zipfile.ZipFile(en["epub"][1]) as z:
        assert "<dc:language>en</dc:language>" in z.read("EPUB/package.opf").decode()
        chapter = z.read("EPUB/chapter-1.xhtml").decode()
    assert 'xml:lang="en"' in chapter and "Watch for cracks after heavy rain." in chapter


def test_published_publication_reaches_portals_and_readers(app, make_web, users, db_session, store):
    import hashlib
    import json
    from pathlib import Path

    import jsonschema

    from storage.models import Package
    editor, approver = make_web(), make_web()
    editor.login("editor")
    approver.login("approver")
    wid = new_work(editor, kind="publication", title="Sổ tay", body="", channels="epub",
                   chapter_title=["Chương 1. Lũ"], chapter_body=["Lên vùng cao khi có báo động."])
    editor.post(f"/works/{wid}/transition", {"action": "submit"})
    approver.post(f"/works/{wid}/transition", {"action": "approve"})
    editor.post(f"/works/{wid}/render", {"channels": ["epub"]})
    approver.post(f"/works/{wid}/transition", {"action": "publish"})
    package = db_session.scalar(select(Package).where(Package.work_id == wid))
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "manifest.schema.json").read_text())
    jsonschema.validate(package.manifest, schema)
    assert {f["role"] for f in package.manifest["files"]} >= {"epub", "pdf"}
    page = app.test_client().get(f"/p/{wid}").get_data(as_text=True)
    assert "Sách điện tử có lời đọc (EPUB)" in page and "Bản in (PDF)" in page
    link = page.split('class="button" href="')[1].split('"')[0]
    data = app.test_client().get(link).data
    assert hashlib.sha256(data).hexdigest() in {f["sha256"] for f in package.manifest["files"]}
    from studio.extensions import db
    from studio.services import feeds
    with app.app_context():
        portal = feeds.feed_query(db.session, "portal", None)
        assert [f["role"] for p, files in portal for f in files if p.id == package.id]
