"""Transcribing an uploaded narration in a job (real faster-whisper base model, real Vietnamese speech from
shared/samples), correcting it on its page, and downloading it as SRT and WebVTT captions."""
from __future__ import annotations

import io
import re
import subprocess

import pytest
from sqlalchemy import select

from media_pipeline.asr import character_error_rate
from storage.models import Asset, Job
from tests.helpers import SAMPLES, make_png, new_work

pytestmark = pytest.mark.slow


def _upload(web, wid, path, name, role="narration", language="vi"):
    with open(path, "rb") as f:
        r = web.post(f"/works/{wid}/assets", {"file": (io.BytesIO(f.read()), name), "role": role,
                                              "language": language}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)


def test_narration_is_transcribed_corrected_and_downloaded_as_captions(web, users, db_session):
    web.login("editor")
    wid = new_work(web)
    _upload(web, wid, SAMPLES / "vi_north_male_1.wav", "bản thu.wav")
    asset = db_session.scalar(select(Asset).where(Asset.work_id == wid))
    page = web.get(f"/works/{wid}").get_data(as_text=True)
    assert f"/assets/{asset.id}/transcribe" in page and "transcript-link" not in page
    r = web.post(f"/assets/{asset.id}/transcribe", {"language": "vi"})
    assert r.status_code == 302  # the test queue runs the job within the request
    job = db_session.scalar(select(Job).where(Job.asset_id == asset.id))
    assert (job.kind, job.state, job.progress) == ("transcribe", "succeeded", 100), job.error
    db_session.expire_all()
    t = db_session.get(Asset, asset.id).info["transcript"]
    reference = (SAMPLES / "vi_north_male_1.txt").read_text().strip()
    assert t["language"] == "vi" and character_error_rate(reference, t["text"]) < 0.5
    duration = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                     str(SAMPLES / "vi_north_male_1.wav")], capture_output=True, text=True).stdout)
    starts = [s["start"] for s in t["segments"]]
    assert starts == sorted(starts) and all(0 <= s["start"] < s["end"] <= duration + 0.01 for s in t["segments"])
    page = web.get(f"/assets/{asset.id}/transcript").get_data(as_text=True)
    assert "Tải SRT" in page and t["segments"][0]["text"] in page
    # The editor corrects the text; the timings stay, the captions follow.
    texts = [reference] + [""] * (len(t["segments"]) - 1)
    assert web.post(f"/assets/{asset.id}/transcript", {"text": texts}).status_code == 302
    vtt = web.get(f"/assets/{asset.id}/captions.vtt")
    assert vtt.mimetype == "text/vtt"
    body = vtt.get_data(as_text=True)
    assert body.startswith("WEBVTT\nLanguage: vi") and reference in body
    srt = web.get(f"/assets/{asset.id}/captions.srt").get_data(as_text=True)
    assert re.match(r"1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n" + re.escape(reference), srt)
    stale = web.post(f"/assets/{asset.id}/transcript", {"text": ["a", "b", "c", "d", "e"]})
    assert stale.status_code == 400 and "tải lại trang" in stale.get_data(as_text=True)


def test_silent_recording_and_pictures(web, users, db_session, tmp_path):
    web.login("editor")
    wid = new_work(web)
    silent = tmp_path / "im-lặng.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3", str(silent)],
                   check=True)
    _upload(web, wid, silent, "im-lặng.wav")
    _upload(web, wid, make_png(tmp_path / "a.png"), "a.png", role="attachment", language="")
    audio, picture = db_session.scalars(select(Asset).where(Asset.work_id == wid).order_by(Asset.id)).all()
    web.post(f"/assets/{audio.id}/transcribe", {"language": "vi"})
    page = web.get(f"/assets/{audio.id}/transcript").get_data(as_text=True)
    assert "Không nhận dạng được lời nói nào trong bản thu này." in page
    r = web.post(f"/assets/{picture.id}/transcribe", {"language": "vi"})
    assert "Chỉ có thể phiên âm âm thanh và video." in web.get(r.headers["Location"]).get_data(as_text=True)
    assert web.get(f"/assets/{picture.id}/captions.srt").status_code == 400
    assert web.get(f"/assets/{audio.id}/captions.txt").status_code == 404


def test_speech_recognition_turned_off_fails_the_job_with_its_reason(app, web, users, db_session):
    app.config["WHISPER_MODEL"] = ""
    app.extensions.get("job_resources", {}).pop("whisper", None)
    web.login("editor")
    wid = new_work(web)
    _upload(web, wid, SAMPLES / "vi_north_male_1.wav", "x.wav")
    asset = db_session.scalar(select(Asset).where(Asset.work_id == wid))
    web.post(f"/assets/{asset.id}/transcribe", {"language": "vi"})
    job = db_session.scalar(select(Job).where(Job.asset_id == asset.id))
    assert job.state == "failed" and "STUDIO_WHISPER_MODEL" in job.error and job.attempts == 1
