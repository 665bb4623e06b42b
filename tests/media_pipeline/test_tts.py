"""Speech engines: espeak-ng for real; gTTS with its network call replaced (Google cannot be reached here)."""
from __future__ import annotations

import hashlib
import subprocess

import pytest

from media_pipeline.errors import EngineError
from media_pipeline.tts import SynthesisRequest, make_engines, registered
from tests.media_pipeline.conftest import ffprobe


def test_espeak_speaks_three_vietnamese_accents_english_and_mandarin(tmp_path):
    engine = make_engines(["espeak"])[0]
    assert {v.accent for v in engine.voices() if v.language == "vi"} == {"north", "central", "south"}
    digests = set()
    for voice in ("vi", "vi-vn-x-central", "vi-vn-x-south"):
        out = engine.synthesize(SynthesisRequest("Xin chào bà con", "vi", voice), tmp_path / f"{voice}.wav")
        assert float(ffprobe(out)["format"]["duration"]) > 0.5
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 3
    assert engine.synthesize(SynthesisRequest("你好", "zh"), tmp_path / "zh.wav").exists()
    with pytest.raises(EngineError, match="no voice"):
        engine.synthesize(SynthesisRequest("Nyob zoo", "hmn"), tmp_path / "hmn.wav")


def test_speed_changes_duration(tmp_path):
    engine = make_engines(["espeak"])[0]
    text = "Ủy ban nhân dân xã thông báo lịch tiêm chủng cho trẻ em."
    slow = engine.synthesize(SynthesisRequest(text, "vi", speed=0.7), tmp_path / "slow.wav")
    fast = engine.synthesize(SynthesisRequest(text, "vi", speed=1.5), tmp_path / "fast.wav")
    assert float(ffprobe(slow)["format"]["duration"]) > 1.5 * float(ffprobe(fast)["format"]["duration"])


def test_gtts_adapter_with_network_replaced(tmp_path, monkeypatch):
    """gTTS's request to Google is replaced by writing a real MP3 made with ffmpeg; the adapter's conversion,
    language mapping and error handling run for real."""
    from gtts import gTTS
    seen = {}

    def fake_save(self, path):
        seen["lang"], seen["text"] = self.lang, self.text
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libmp3lame",
                        path], check=True)
    monkeypatch.setattr(gTTS, "save", fake_save)
    engine = registered()["gtts"]()
    out = engine.synthesize(SynthesisRequest("Xin chào", "zh"), tmp_path / "g.wav")
    stream = ffprobe(out)["streams"][0]
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("pcm_s16le", "24000", 1)
    assert seen == {"lang": "zh-CN", "text": "Xin chào"}


def test_gtts_offline_gives_a_clear_error(tmp_path, monkeypatch):
    """Offline (as here, where Google is unreachable) gTTS raises gTTSError; we turn it into EngineError."""
    from gtts import gTTS
    from gtts.tts import gTTSError

    def offline(self, path):
        raise gTTSError("Failed to connect. Probable cause: Unknown")
    monkeypatch.setattr(gTTS, "save", offline)
    with pytest.raises(EngineError, match="could not reach Google"):
        registered()["gtts"]().synthesize(SynthesisRequest("Xin chào", "vi"), tmp_path / "g.wav")


def test_unknown_engine_is_named():
    with pytest.raises(EngineError, match="installed: espeak"):
        make_engines(["festival"])


def test_mandarin_is_read_as_mandarin_not_as_english_pinyin():
    """espeak-ng's "cmn" voice turns characters into pinyin and reads it as English ("(en)" in its phonemes);
    the voice the studio uses for zh, and for settings that stored "cmn", speaks Mandarin tones throughout."""
    import subprocess

    from media_pipeline.tts import espeak
    chosen = espeak.ALIASES.get("cmn")
    default = next(v.id for v in espeak.VOICES if v.language == "zh")
    assert chosen == default
    phonemes = subprocess.run(["espeak-ng", "-q", "-x", "-v", default, "请注意今晚有大雨"], capture_output=True,
                              text=True, check=True).stdout
    wrong = subprocess.run(["espeak-ng", "-q", "-x", "-v", "cmn", "请注意今晚有大雨"], capture_output=True, text=True,
                           check=True).stdout
    assert "(en)" in wrong  # what wave 1 broadcast at the border gates
    assert "(en)" not in phonemes and phonemes.count("_|") >= 7  # one Mandarin syllable per character
