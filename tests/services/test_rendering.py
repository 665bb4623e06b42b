"""Render jobs through the web app: real espeak-ng, ffmpeg and S3; huey runs tasks at once (memory queue)."""
from __future__ import annotations

import html
import re

from sqlalchemy import select

from storage.models import Asset, Job, Rendition, Setting, User, Work
from tests.helpers import SAMPLES, make_png, make_tone, new_work
from tests.services.test_assets import upload

BODY = "UBND xã Đồng Đăng thông báo lịch tiêm chủng. Người dân mang theo thẻ BHYT."


def render(web, wid, channels=("loudspeaker",), languages=()):
    return web.post(f"/works/{wid}/render", {"channels": list(channels), "languages": list(languages)})


def jobs_of(db_session, wid):
    db_session.expire_all()
    return db_session.scalars(select(Job).where(Job.work_id == wid).order_by(Job.id)).all()


def test_render_from_the_work_page_and_reuse_when_unchanged(web, users, db_session, store, tmp_path):
    web.login("editor")
    wid = new_work(web, body=BODY, kind="radio_bulletin")
    upload(web, wid, make_png(tmp_path / "p.png"), xhr=True)
    assert render(web, wid, ["loudspeaker", "eboard"]).status_code == 302
    first = jobs_of(db_session, wid)
    assert [(j.profile, j.state, j.progress) for j in first] == [("loudspeaker", "succeeded", 100),
                                                                  ("eboard-1080p", "succeeded", 100)]
    rendition = db_session.get(Rendition, first[0].rendition_id)
    assert rendition.lufs is not None and abs(rendition.lufs + 16) <= 1.0
    assert all(store.exists(f["key"]) for f in rendition.files)
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "<audio" in page and "<video" in page and "thành công" in page
    played = web.get(f"/renditions/{rendition.id}/0", headers={"Range": "bytes=0-99"})
    assert played.status_code == 206 and len(played.data) == 100
    # Unchanged work: the same stored rendition comes back without encoding.
    render(web, wid, ["loudspeaker", "eboard"])
    second = jobs_of(db_session, wid)[2:]
    assert [j.cached for j in second] == [True, True]
    assert [j.rendition_id for j in second] == [j.rendition_id for j in first]
    assert db_session.scalar(select(Rendition).where(Rendition.work_id == wid).order_by(Rendition.id.desc())
                             .limit(1)).id == first[1].rendition_id
    # A changed text renders anew; the earlier rendition stays.
    web.post(f"/works/{wid}/edit", {"kind": "radio_bulletin", "title": "Thông báo lịch tiêm chủng",
                                     "body": BODY + " Xin cảm ơn.", "version": "1"})
    render(web, wid, ["loudspeaker"])
    third = jobs_of(db_session, wid)[-1]
    assert third.state == "succeeded" and not third.cached and third.rendition_id != first[0].rendition_id
    assert db_session.get(Rendition, first[0].rendition_id) is not None


def test_empty_text_fails_with_a_clear_message(web, users, db_session):
    web.login("editor")
    wid = new_work(web, body="")
    # Only the title is there: still something to read.
    render(web, wid)
    assert jobs_of(db_session, wid)[0].state == "succeeded", jobs_of(db_session, wid)[0].error
    from storage.models import Work
    work = db_session.get(Work, wid)
    work.title = "   "
    db_session.commit()
    render(web, wid)
    job = jobs_of(db_session, wid)[-1]
    assert job.state == "failed" and "no text" in job.error and job.attempts == 1


def test_language_without_engine_tells_what_can_be_done(web, users, db_session, app):
    web.login("editor")
    wid = new_work(web, body=BODY, source_language="hmn")
    render(web, wid)
    job = jobs_of(db_session, wid)[0]
    assert job.state == "failed" and job.attempts == 1  # permanent: not retried
    assert "Languages that can be synthesized: en, vi, zh" in job.error
    assert "Upload a recorded narration" in job.error
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    # Shown in the reader's language (Vietnamese here), with what can be done.
    assert "Hãy tải lên bản thu giọng đọc cho hmn" in page and "Các ngôn ngữ đọc được: en, vi, zh" in page


def test_mapped_language_is_marked_approximate(web, make_web, users, db_session, app):
    from studio.extensions import db
    from studio.services import Caller, voices
    with app.app_context():
        voices.set_mapping(db.session, Caller(db.session.get(User, users["admin"])), "tyz", "vi")
        db.session.commit()
    web.login("editor")
    wid = new_work(web, body="Pác Bó mì slấc. Bà con hết hàng.", source_language="tyz")
    render(web, wid)
    job = jobs_of(db_session, wid)[0]
    assert job.state == "succeeded", job.error
    assert db_session.get(Rendition, job.rendition_id).approximate
    assert "giọng đọc gần đúng" in web.get(f"/works/{wid}").get_data(as_text=True)


def test_uploaded_narration_replaces_synthesis(web, users, db_session, tmp_path):
    if not SAMPLES.exists():
        import pytest
        pytest.skip("../shared/samples is not beside this checkout")
    web.login("editor")
    text = (SAMPLES / "vi_north_male_1.txt").read_text(encoding="utf-8").strip()
    wid = new_work(web, title="Bản ghi âm", body=text, source_language="hmn")
    with open(SAMPLES / "vi_north_male_1.wav", "rb") as f:
        resp = web.post(f"/works/{wid}/assets", {"file": (f, "giong-doc.wav"), "role": "narration",
                                                 "language": "hmn"},
                        content_type="multipart/form-data", headers={"X-Requested-With": "XMLHttpRequest"})
    assert resp.status_code == 201
    render(web, wid)
    job = jobs_of(db_session, wid)[0]
    assert job.state == "succeeded", job.error
    r = db_session.get(Rendition, job.rendition_id)
    # H'Mông is no language of Whisper's: the captions follow the recording's pauses.
    assert r.engine == "recording aligned by pauses" and not r.approximate and abs(r.lufs + 16) <= 1.0


def test_corrupt_recording_is_refused(web, users, tmp_path):
    web.login("editor")
    wid = new_work(web)
    bad = tmp_path / "narration.mp3"
    bad.write_bytes(b"ID3" + b"\x00" * 10 + b"not audio at all" * 200)
    with open(bad, "rb") as f:
        resp = web.post(f"/works/{wid}/assets", {"file": (f, "narration.mp3"), "role": "narration",
                                                 "language": "vi"},
                        content_type="multipart/form-data", headers={"X-Requested-With": "XMLHttpRequest"})
    assert resp.status_code == 415
    png = make_png(tmp_path / "x.png")
    with open(png, "rb") as f:
        resp = web.post(f"/works/{wid}/assets", {"file": (f, "x.png"), "role": "narration", "language": "vi"},
                        content_type="multipart/form-data", headers={"X-Requested-With": "XMLHttpRequest"})
    assert resp.status_code == 415 and "âm thanh" in resp.get_json()["error"]["message"]
    tone = make_tone(tmp_path / "t.mp3", 1.0)
    with open(tone, "rb") as f:
        resp = web.post(f"/works/{wid}/assets", {"file": (f, "t.mp3"), "role": "narration", "language": "../vi"},
                        content_type="multipart/form-data", headers={"X-Requested-With": "XMLHttpRequest"})
    assert resp.status_code == 415 and resp.get_json()["error"]["field"] == "language"


def test_failed_render_keeps_earlier_renditions(web, users, db_session, app):
    web.login("editor")
    wid = new_work(web, body=BODY)
    render(web, wid, ["eboard"])
    good = jobs_of(db_session, wid)[0]
    assert good.state == "succeeded"
    # An admin saves an impossible resolution directly in the settings (as a broken import might).
    db_session.add(Setting(key="profiles", value={"eboard-1080p": {"width": 1921}}))
    db_session.commit()
    render(web, wid, ["eboard"])
    bad = jobs_of(db_session, wid)[-1]
    assert (bad.state, bad.error_code, bad.error_params) == \
        ("failed", "profile_invalid", {"profile": "eboard-1080p", "setting": "width", "value": 1921})
    assert db_session.get(Rendition, good.rendition_id) is not None
    page = html.unescape(web.get(f"/works/{wid}").get_data(as_text=True))
    # Which profile, which setting and its value, in the reader's words (not the pipeline's English).
    assert "Không dùng được cấu hình kênh Bảng điện tử 1920×1080: Rộng (điểm ảnh) đang là 1921." in page
    assert "<video" in page


def test_profile_settings_refuse_impossible_values(app, users):
    import pytest

    from studio.errors import ValidationError
    from studio.extensions import db
    from studio.services import Caller, channels
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        with pytest.raises(ValidationError) as refused:
            channels.save_profile(db.session, admin, "eboard-1080p", {"width": 0})
        assert (refused.value.field, refused.value.params) == \
            ("width", {"setting": "width", "value": 0, "low": 16, "high": 7680, "allowed": ""})
        p = channels.save_profile(db.session, admin, "eboard-1080p", {"width": 1280, "height": 720})
        assert (p.width, p.height) == (1280, 720)


def test_missing_translation_is_refused_when_queueing(web, users, db_session):
    web.login("editor")
    wid = new_work(web, body=BODY)
    resp = render(web, wid, ["loudspeaker"], ["en"])
    assert resp.status_code == 302
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "bản dịch" in page and not jobs_of(db_session, wid)


def test_cancel_and_retry(web, users, db_session, app):
    from studio.services import Caller, rendering
    web.login("editor")
    wid = new_work(web, body=BODY)
    # Queued outside the app (no worker hears of it), so it is still waiting when the editor cancels.
    jobs = rendering.queue(db_session, Caller(db_session.get(User, users["editor"])), db_session.get(Work, wid), ["loudspeaker"])
    db_session.commit()
    job_id = jobs[0].id
    assert web.post(f"/jobs/{job_id}/cancel").status_code == 302
    assert jobs_of(db_session, wid)[0].state == "cancelled"
    assert web.post(f"/jobs/{job_id}/cancel").status_code == 302  # already ended: told, nothing breaks
    assert web.post(f"/jobs/{job_id}/retry").status_code == 302
    job = jobs_of(db_session, wid)[0]
    assert job.state == "succeeded" and job.rendition_id
    live = web.get(f"/works/{wid}/jobs.json").get_json()["jobs"][0]
    assert live["state"] == "succeeded" and live["progress"] == 100


def test_two_hour_text_is_refused_before_work_starts(web, users, db_session):
    web.login("editor")
    sentence = "Người dân chú ý theo dõi thông tin thời tiết và thực hiện hướng dẫn của chính quyền địa phương."
    wid = new_work(web, body=" ".join([sentence] * 1200))  # about two hours read aloud
    render(web, wid)
    job = jobs_of(db_session, wid)[0]
    assert job.state == "failed" and job.progress < 10
    assert re.search(r"about 1\d\d minutes; loudspeaker plays at most 15 minutes", job.error)
    body = " ".join(f"Câu số {i}." for i in range(5200))
    wid = new_work(web, body=body)
    render(web, wid, ["eboard"])
    job = jobs_of(db_session, wid)[0]
    assert job.state == "failed" and re.search(r"5\d{3} sentences", job.error)


def test_synthesized_speech_is_checked_and_flagged_above_the_threshold(web, users, db_session, app):
    """Whisper transcribes the synthesized narration with word timings; each sentence is compared with what was
    heard during its cue, and sentences above the threshold are listed on the page."""
    app.config["CER_THRESHOLD"] = 0.0  # every sentence Whisper does not hear perfectly is flagged
    web.login("editor")
    wid = new_work(web, title="Thông báo", body="Người dân mang theo thẻ bảo hiểm y tế. Xã tổ chức tiêm chủng.")
    render(web, wid)
    job = jobs_of(db_session, wid)[0]
    assert job.state == "succeeded", job.error
    check = db_session.get(Rendition, job.rendition_id).speech_check
    assert check["sentences"] == 3 and check["transcript"] and 0.0 <= check["cer"]
    flagged = [p for p in check["passages"] if p["cer"] > 0]
    assert check["flagged"] is bool(flagged) and len(check["passages"]) == len(flagged)
    assert {p["expected"] for p in check["passages"]} <= {"Thông báo", "Người dân mang theo thẻ bảo hiểm y tế.",
                                                          "Xã tổ chức tiêm chủng."}
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert "ký tự khác biệt" in page
    if check["flagged"]:
        assert "Cần nghe lại" in page and "câu " in page


def test_the_speech_check_compares_sentence_by_sentence_and_chinese_by_characters():
    from media_pipeline import asr
    from media_pipeline.audio import Cue
    cues = [Cue(0.0, 2.0, "a"), Cue(2.4, 4.0, "b")]
    words = [Cue(0.1, 0.5, "xin"), Cue(0.5, 1.0, "chào"), Cue(2.5, 3.0, "bà"), Cue(3.0, 3.5, "còn")]
    check = asr.check_sentences(["Xin chào.", "Bà con."], cues, words, "vi", threshold=0.1)
    assert [p["sentence"] for p in check["passages"]] == [2] and check["passages"][0]["heard"] == "bà còn"
    assert check["cer"] == round(1 / 14, 3)  # one character wrong of 7 + 6 (spaces count in Vietnamese)
    assert asr.character_error_rate("今晚 有大雨。", "今晚有 大雨", "zh") == 0.0  # characters, spaces aside
    assert asr.check_sentences(["Xin chào."], cues[:1], [], "vi", threshold=None)["flagged"] is False
    assert asr.calibrated_threshold("espeak 1.51", "en") == 0.2
    assert asr.calibrated_threshold("espeak 1.51", "zh") is None  # advice only, as measured
    assert asr.calibrated_threshold("piper", "vi") == 0.35  # not measured: the default


def test_translators_upload_and_replace_the_narration_of_their_language(web, make_web, users, db_session, tmp_path):
    """A Tày translator records the Tày narration from the work page and through the API; the source language,
    languages nobody translates and other uploads stay with editors."""
    from tests.web.test_api import auth, token_for
    web.login("editor")
    wid = new_work(web, title="Thông báo", body="Xã tổ chức tiêm chủng.")
    translator = make_web()
    translator.login("translator")
    page = translator.get(f"/works/{wid}").get_data(as_text=True)
    assert 'name="role"' not in page  # nothing to record yet: no translation
    tone = make_tone(tmp_path / "tay.wav", 1.5)

    def post(client, language, role="narration", headers=None):
        with open(tone, "rb") as f:
            return client.post(f"/works/{wid}/assets", {"file": (f, "tay.wav"), "role": role, "language": language},
                               content_type="multipart/form-data",
                               headers=headers or {"X-Requested-With": "XMLHttpRequest"})
    refused = post(translator, "tyz")
    assert refused.status_code == 403 and "bắt đầu bản dịch trước" in refused.get_json()["error"]["message"]
    translator.post(f"/works/{wid}/translations", {"language": "tyz"})
    page = translator.get(f"/works/{wid}").get_data(as_text=True)
    assert "Tải lên bản thu giọng đọc bằng ngôn ngữ của bạn" in page
    assert 'value="tyz"' in page and 'value="attachment"' not in page
    assert post(translator, "tyz").status_code == 201
    assert post(translator, "vi").status_code == 403  # the source language is the editors'
    assert post(translator, "tyz", role="attachment").status_code == 403
    # The API: role and language fields, the same rules.
    token = token_for(make_web(), "translator")
    with open(tone, "rb") as f:
        resp = web.client.post(f"/api/v1/works/{wid}/assets", data={"file": (f, "tay-2.wav"), "role": "narration",
                                                                     "language": "tyz"}, headers=auth(token),
                               content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["role"] == "narration" and resp.get_json()["language"] == "tyz"
    with open(tone, "rb") as f:
        resp = web.client.post(f"/api/v1/works/{wid}/assets", data={"file": (f, "x.wav")}, headers=auth(token),
                               content_type="multipart/form-data")
    assert resp.status_code == 403
    narrations = db_session.scalars(select(Asset).where(Asset.work_id == wid, Asset.role == "narration")).all()
    assert [a.language for a in narrations] == ["tyz", "tyz"]  # the newest one is the one rendered


def test_channel_renders_of_a_language_share_one_narration_and_speech_check(web, users, db_session, store):
    """The loudspeaker and border-screen renders of one language: one narrate job synthesizes and checks (its
    log follows Whisper's progress), and both renders reuse its narration and carry its speech check."""
    web.login("editor")
    wid = new_work(web, body=BODY, kind="radio_bulletin")
    assert render(web, wid, ["loudspeaker", "border_screen"]).status_code == 302
    done = jobs_of(db_session, wid)
    assert [(j.kind, j.profile, j.state) for j in done] == [("narrate", "", "succeeded"),
                                                             ("render", "loudspeaker", "succeeded"),
                                                             ("render", "border-screen", "succeeded")]
    narrate, renders = done[0], done[1:]
    assert all(r.depends_on == [narrate.id] for r in renders)
    log = [line["msg"] for line in narrate.log]
    assert "checking the synthesized speech with Whisper" in log
    steps = [m for m in log if m.startswith("checking the synthesized speech: ")]
    percents = [int(m.rsplit(" ", 2)[1]) for m in steps]
    assert len(percents) >= 2 and percents == sorted(percents) and percents[-1] >= 90  # progress, not silence
    for r in renders:
        assert "reused the synthesized narration" in [line["msg"] for line in r.log]
        assert not any(m.startswith("checking the synthesized speech") for m in (line["msg"] for line in r.log))
    wavs = [o.key for o in store.list("narrations/") if o.key.endswith(".wav")]
    assert len(wavs) == 1  # synthesized once
    checks = [db_session.get(Rendition, r.rendition_id).speech_check for r in renders]
    assert checks[0] and checks[0] == checks[1] and "cer" in checks[0]
    # A single audio render needs no narrate job of its own.
    wid2 = new_work(web, body=BODY + " Xin cảm ơn.", kind="radio_bulletin")
    render(web, wid2, ["loudspeaker", "eboard"])
    assert [j.kind for j in jobs_of(db_session, wid2)] == ["render", "render"]
