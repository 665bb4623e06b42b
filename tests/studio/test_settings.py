"""Voices, reading rules, mappings and profiles: who may change them, what is refused, and that renders use them."""
from __future__ import annotations

import html
import json

from sqlalchemy import select

from storage.models import Job, Rendition
from tests.conftest import new_work


def test_editor_chooses_accent_and_speed_and_the_render_follows(web, users, db_session):
    web.login("editor")
    page = web.get("/settings/media").get_data(as_text=True)
    assert "Tiếng Việt (miền Nam)" in page
    wid = new_work(web, body="Xin chào bà con.")
    web.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]})
    north = db_session.scalars(select(Job).where(Job.work_id == wid)).one()
    resp = web.post("/settings/voices", {"language": "vi", "engine": "espeak", "voice": "vi-vn-x-south",
                                         "speed": "0.8"})
    assert resp.status_code == 302
    web.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]})
    db_session.expire_all()
    south = db_session.scalars(select(Job).where(Job.work_id == wid).order_by(Job.id.desc())).first()
    assert south.state == "succeeded" and not south.cached
    a, b = db_session.get(Rendition, north.rendition_id), db_session.get(Rendition, south.rendition_id)
    assert a.key != b.key and b.duration_s > a.duration_s  # slower speech lasts longer
    bad = web.post("/settings/voices", {"language": "vi", "engine": "espeak", "voice": "vi", "speed": "5"})
    assert bad.status_code == 400 and "Tốc độ" in bad.get_data(as_text=True)


def test_reading_rules_are_checked_saved_and_used(web, users, app):
    web.login("editor")
    broken = '{"abbreviations": {"BQL": "Ban quản lý"'
    resp = web.post("/settings/reading-rules", {"rules": broken})
    assert resp.status_code == 400 and "JSON" in resp.get_data(as_text=True)
    assert broken in html.unescape(resp.get_data(as_text=True))  # the editor's text is shown back, not lost
    assert web.post("/settings/reading-rules", {"rules": '{"tricks": {}}'}).status_code == 400
    rules = {"abbreviations": {"BQL": "Ban quản lý"}}
    assert web.post("/settings/reading-rules", {"rules": json.dumps(rules)}).status_code == 302
    from media_pipeline.text.normalize_vi import normalize
    assert normalize("BQL chợ", app.config["NORMALIZATION_FILE"]) == "Ban quản lý chợ"


def test_admin_edits_profiles_and_mappings_editors_cannot(web, make_web, users, app):
    editor = make_web()
    editor.login("editor")
    assert editor.post("/settings/profiles/eboard-1080p", {"width": "1280"}).status_code == 403
    assert editor.post("/settings/mappings", {"language": "tay", "read_as": "vi"}).status_code == 403
    translator = make_web()
    translator.login("translator")
    assert translator.get("/settings/media").status_code == 403
    web.login("admin")
    resp = web.post("/settings/profiles/eboard-led-384x192", {"width": "383", "height": "192"})
    assert resp.status_code == 400 and "even width and height" in resp.get_data(as_text=True)
    assert web.post("/settings/profiles/eboard-led-384x192", {"width": "abc"}).status_code == 400
    assert web.post("/settings/profiles/eboard-led-384x192", {"width": "320", "height": "160"}).status_code == 302
    assert web.post("/settings/mappings", {"language": "tay", "read_as": "vi"}).status_code == 302
    page = web.get("/settings/media").get_data(as_text=True)
    assert "tay → vi" in page and 'value="320"' in page
    from studio.extensions import db
    from studio.services import voices
    with app.app_context():
        assert voices.profiles(db.session)["eboard-led-384x192"].width == 320
