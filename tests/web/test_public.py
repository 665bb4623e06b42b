"""Readers' pages without login: the published work in each language with its media, RSS 2.0 with enclosures,
NINJS, feedback; retraction takes the page down."""
from __future__ import annotations

import json
from xml.etree import ElementTree

import html5lib
import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Feedback, User
from tests.helpers import new_work

pytestmark = pytest.mark.slow


def _login(make_web, name):
    w = make_web()
    assert w.login(name).status_code == 302
    return w


@pytest.fixture
def published(app, make_web, users):
    """A bulletin with an approved English translation, rendered for the web and published."""
    from studio.extensions import db
    from studio.services import Caller, translations
    editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
    wid = new_work(editor, title="Lịch tiêm chủng", summary="Tiêm miễn phí cho trẻ em.",
                   body="Xã tổ chức tiêm chủng vào sáng thứ Hai.", channels="web")
    with app.app_context():
        tr = Caller(db.session.get(User, users["translator"]))
        translations.start(db.session, tr, wid, "en")
        for i, t in enumerate(["Vaccination schedule", "Free vaccination for children.",
                               "The commune vaccinates on Monday morning."]):
            translations.save_segment(db.session, tr, wid, "en", i, t, approve=True)
        translations.approve(db.session, Caller(db.session.get(User, users["approver"])), wid, "en")
        db.session.commit()
    editor.post(f"/works/{wid}/transition", {"action": "submit"})
    approver.post(f"/works/{wid}/transition", {"action": "approve"})
    editor.post(f"/works/{wid}/render", {"channels": ["web"], "languages": ["vi", "en"]})
    assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302
    return wid


def test_public_page_media_languages_rss_ninjs_and_retraction(app, published, make_web, db_session):
    wid = published
    reader = app.test_client()
    page = reader.get(f"/p/{wid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    html5lib.HTMLParser(strict=True).parse(html)  # raises on any parse error: the page is valid HTML5
    assert '<html lang="vi">' in html and "Xã tổ chức tiêm chủng vào sáng thứ Hai." in html
    assert 'hreflang="en"' in html and "<audio" in html and "<track" in html
    audio_url = html.split('<audio controls preload="metadata" src="')[1].split('"')[0]
    full = reader.get(audio_url)
    assert full.status_code == 200 and full.mimetype == "audio/mpeg" and len(full.data) > 1000
    part = reader.get(audio_url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == full.data[:100]
    english = reader.get(f"/p/{wid}?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "The commune vaccinates on Monday morning." in english
    assert reader.get(f"/p/{wid}?lang=fr").status_code == 404
    assert reader.get(f"/p/{wid}/media/{'0' * 64}").status_code == 404
    ninjs = json.loads(reader.get(f"/p/{wid}/ninjs.json").data)
    assert ninjs["headline"] == "Lịch tiêm chủng" and ninjs["pubstatus"] == "usable"
    rss = ElementTree.fromstring(reader.get("/rss.xml").data)
    item = rss.find("channel/item")
    assert item.findtext("title") == "Lịch tiêm chủng" and item.findtext("link").endswith(f"/p/{wid}")
    enclosure = item.find("enclosure")
    assert enclosure.get("type") == "audio/mpeg" and int(enclosure.get("length")) == len(full.data)
    en_rss = ElementTree.fromstring(reader.get("/rss.xml?lang=en").data)
    assert en_rss.find("channel/item").findtext("title") == "Vaccination schedule"

    # Feedback from a reader (no account) reaches the editors' inbox (tests/services/test_feedback.py: the loop).
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    r = reader.post(f"/p/{wid}/feedback", data={"message": "Có tiêm cho trẻ 6 tuổi không?", "csrf_token": token})
    assert r.status_code == 302
    fb = db_session.scalar(select(Feedback).where(Feedback.work_id == wid))
    assert fb.message == "Có tiêm cho trẻ 6 tuổi không?" and fb.state == "new" and fb.source == "page"
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "reader.feedback")) is None

    approver = _login(make_web, "approver")
    approver.post(f"/works/{wid}/transition", {"action": "retract", "reason": "Đổi lịch"})
    assert reader.get(f"/p/{wid}").status_code == 404
    assert reader.get(audio_url).status_code == 404
    assert ElementTree.fromstring(reader.get("/rss.xml").data).find("channel/item") is None


def test_unpublished_work_has_no_public_page(app, make_web, users):
    wid = new_work(_login(make_web, "editor"))
    assert app.test_client().get(f"/p/{wid}").status_code == 404


def test_readers_see_the_approved_translation_never_a_later_draft(app, make_web, users, db_session):
    """A translation with no media still has its page; a translator's edit after publishing is not shown."""
    from studio.extensions import db
    from studio.services import Caller, translations
    editor, approver = _login(make_web, "editor"), _login(make_web, "approver")
    wid = new_work(editor, title="Thông báo", body="Xã tổ chức họp dân.", channels="web")
    with app.app_context():
        tr = Caller(db.session.get(User, users["translator"]))
        translations.start(db.session, tr, wid, "en")
        for i, t in enumerate(["Notice", "The commune holds a meeting."]):
            translations.save_segment(db.session, tr, wid, "en", i, t, approve=True)
        translations.approve(db.session, Caller(db.session.get(User, users["approver"])), wid, "en")
        db.session.commit()
    editor.post(f"/works/{wid}/transition", {"action": "submit"})
    approver.post(f"/works/{wid}/transition", {"action": "approve"})
    assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302  # renders vi only
    reader = app.test_client()
    page = reader.get(f"/p/{wid}?lang=en")
    assert page.status_code == 200 and "The commune holds a meeting." in page.get_data(as_text=True)
    with app.app_context():  # after publishing, a translator changes a sentence (the translation is a draft)
        translations.save_segment(db.session, Caller(db.session.get(User, users["translator"])), wid, "en", 1,
                                  "UNAPPROVED DRAFT TEXT")
        db.session.commit()
        assert translations.get(db.session, wid, "en").state != "approved"
    html = reader.get(f"/p/{wid}?lang=en").get_data(as_text=True)
    assert "UNAPPROVED DRAFT TEXT" not in html and "The commune holds a meeting." in html
