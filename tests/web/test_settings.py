"""Voices, reading rules, mappings and profiles: who may change them, what is refused, and that renders use them."""
from __future__ import annotations

import html
import json
import re

import pytest

from sqlalchemy import select

from storage.models import Job, Rendition
from tests.helpers import new_work


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
    from studio.extensions import db
    from studio.services import voices
    with app.app_context():  # in the database, so every worker and the work page read the same rules
        assert voices.spoken(db.session, "vi", ["BQL chợ họp lúc 7h."]) == ["Ban quản lý chợ họp lúc bảy giờ."]
        assert voices.spoken(db.session, "en", ["BQL 7h."]) == ["BQL 7h."]
    page = web.get("/settings/media").get_data(as_text=True)
    assert "Ban quản lý" in html.unescape(page)
    # The work page shows, sentence by sentence, what the voice will read, before anything is rendered.
    wid = new_work(web, title="Họp chợ", body="BQL chợ họp lúc 7h. Xin cảm ơn bà con.")
    page = html.unescape(web.get(f"/works/{wid}").get_data(as_text=True))
    assert "Ban quản lý chợ họp lúc bảy giờ." in page and "1 trên 3 câu" in page
    assert page.count('class="said"') == 1  # only the sentence read differently shows its reading


def test_admin_edits_profiles_and_mappings_editors_cannot(web, make_web, users, app):
    editor = make_web()
    editor.login("editor")
    assert editor.post("/settings/profiles/eboard-1080p", {"width": "1280"}).status_code == 403
    assert editor.post("/settings/mappings", {"language": "tyz", "read_as": "vi"}).status_code == 403
    translator = make_web()
    translator.login("translator")
    assert translator.get("/settings/media").status_code == 403
    web.login("admin")
    resp = web.post("/settings/profiles/eboard-led-384x192", {"width": "383", "height": "192"})
    assert resp.status_code == 400
    assert "Rộng (điểm ảnh) phải là số chẵn với video H.264; 383 thì không được." in resp.get_data(as_text=True)
    resp = web.post("/settings/profiles/eboard-led-384x192", {"video_crf": "60"})  # x264 stops at 51
    assert resp.status_code == 400 and "phải từ 0 đến 51; 60 thì không được." in resp.get_data(as_text=True)
    assert "Chất lượng hình" in resp.get_data(as_text=True)
    assert web.post("/settings/profiles/eboard-led-384x192", {"width": "abc"}).status_code == 400
    assert web.post("/settings/profiles/eboard-led-384x192", {"width": "320", "height": "160"}).status_code == 302
    assert web.post("/settings/mappings", {"language": "tyz", "read_as": "vi"}).status_code == 302
    page = web.get("/settings/media").get_data(as_text=True)
    assert "tyz → vi" in page and 'value="320"' in page
    from studio.extensions import db
    from studio.services import channels
    with app.app_context():
        assert channels.profiles(db.session)["eboard-led-384x192"].width == 320


def test_intro_jingle_plays_before_the_narration_and_moves_the_captions(web, make_web, users, db_session, tmp_path):
    from tests.helpers import make_tone
    admin = make_web()
    admin.login("admin")
    fake = tmp_path / "jingle.mp3"
    fake.write_text("not audio " * 100)
    with open(fake, "rb") as f:
        resp = admin.post("/settings/profiles/loudspeaker/jingle", {"which": "intro", "file": (f, "j.mp3")},
                          content_type="multipart/form-data")
    assert resp.status_code == 415
    tone = make_tone(tmp_path / "jingle.wav", 2.0, 660)
    with open(tone, "rb") as f:
        resp = admin.post("/settings/profiles/loudspeaker/jingle", {"which": "intro", "file": (f, "j.wav")},
                          content_type="multipart/form-data")
    assert resp.status_code == 302
    web.login("editor")
    wid = new_work(web, body="Xin chào bà con.")
    web.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]})
    job = db_session.scalars(select(Job).where(Job.work_id == wid)).one()
    assert job.state == "succeeded", job.error
    r = db_session.get(Rendition, job.rendition_id)
    assert r.cues[0]["start"] == pytest.approx(2.0, abs=0.05)
    assert r.duration_s > r.cues[-1]["end"] - 0.1 and abs(r.lufs + 16) <= 1.0
    # Removing the jingle renders anew without it.
    admin.post("/settings/profiles/loudspeaker/jingle", {"which": "intro", "remove": "1"})
    web.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]})
    db_session.expire_all()
    again = db_session.scalars(select(Job).where(Job.work_id == wid).order_by(Job.id.desc())).first()
    assert not again.cached and db_session.get(Rendition, again.rendition_id).cues[0]["start"] == 0.0


def test_a_rules_file_of_earlier_versions_moves_into_the_database(tmp_path, store_url, model_cache):
    """Nothing is lost on upgrade: the instance file wave 1 read becomes the database's rules."""
    from flask_migrate import upgrade

    from studio import create_app
    from studio.extensions import db
    from studio.services import voices
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "normalize_vi.json").write_text(json.dumps({"abbreviations": {"BQL": "Ban quản lý"}}),
                                                encoding="utf-8")
    app = create_app({"TESTING": True, "S3_URL": store_url,
                      "QUEUE_URL": "memory://", "MODEL_CACHE": model_cache}, environ={"STUDIO_INSTANCE": str(instance)})
    with app.app_context():
        upgrade()
        assert voices.reading_rules(db.session) == {"abbreviations": {"BQL": "Ban quản lý"}}
        assert voices.spoken(db.session, "vi", ["BQL chợ"]) == ["Ban quản lý chợ"]


def test_the_voices_page_plays_a_sample_of_each_installed_voice(web, users, tmp_path):
    import subprocess
    web.login("editor")
    page = web.get("/settings/media").get_data(as_text=True)
    assert "Giọng đọc đã cài" in page
    players = re.findall(r'<audio controls preload="none" [^>]*src="([^"]+)"', html.unescape(page))
    assert any("voice=vi-vn-x-south" in p for p in players) and any("voice=cmn-latn-pinyin" in p for p in players)
    resp = web.get("/settings/voices/sample?engine=espeak&voice=vi-vn-x-central")
    assert resp.status_code == 200 and resp.mimetype == "audio/wav"
    wav = tmp_path / "sample.wav"
    wav.write_bytes(resp.get_data())
    seconds = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                    str(wav)], capture_output=True, text=True, check=True).stdout)
    assert 2.0 < seconds < 15.0  # two sentences read aloud
    missing = web.get("/settings/voices/sample?engine=espeak&voice=klingon")
    assert missing.status_code == 404 and "klingon" in missing.get_data(as_text=True)
