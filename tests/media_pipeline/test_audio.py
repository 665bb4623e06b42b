"""Mastering on real Vietnamese speech: two-pass loudness normalisation to the target within ±1 LU."""
from __future__ import annotations

import shutil

import pytest

from media_pipeline import audio
from media_pipeline.errors import InvalidMedia
from tests.helpers import SAMPLES, make_tone
from tests.media_pipeline.conftest import ffprobe, lufs

needs_samples = pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/samples is not beside this checkout")


@needs_samples
@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_two_pass_loudnorm_hits_target_on_speech(tmp_path, target):
    src = audio.to_work_format(SAMPLES / "vi_north_female_1.wav", tmp_path / "in.wav")
    out = tmp_path / "out.mp3"
    audio.master(src, out, target, -1.5, 44100, 1, ["-c:a", "libmp3lame", "-b:a", "64k"])
    integrated, peak = lufs(out)
    assert abs(integrated - target) <= 1.0, integrated
    assert peak <= -1.0
    stream = ffprobe(out)["streams"][0]
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("mp3", "44100", 1)


@needs_samples
def test_joined_sentences_have_increasing_timings_inside_the_audio(tmp_path):
    parts = []
    for name in ("vi_north_male_1", "vi_north_female_1", "vi_north_male_2"):
        parts.append((SAMPLES / f"{name}.wav", (SAMPLES / f"{name}.txt").read_text(encoding="utf-8").strip()))
    out = tmp_path / "joined.wav"
    cues = audio.join_sentences(parts, out, pause_s=0.3)
    total = float(ffprobe(out)["format"]["duration"])
    assert [c.text for c in cues] == [p[1] for p in parts]
    assert cues[0].start == 0.0 and cues[-1].end == pytest.approx(total, abs=0.01)
    for a, b in zip(cues, cues[1:]):
        assert a.start < a.end < b.start < b.end
        assert b.start - a.end == pytest.approx(0.3, abs=0.01)


def test_trim_removes_leading_and_trailing_silence(tmp_path):
    tone = make_tone(tmp_path / "tone.wav", 1.0)
    padded = tmp_path / "padded.wav"
    import subprocess
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tone), "-af", "adelay=700,apad=pad_dur=0.9",
                    "-ac", "1", "-ar", "24000", "-sample_fmt", "s16", str(padded)], check=True)
    out = tmp_path / "trimmed.wav"
    lead = audio.trim_silence(padded, out)
    assert lead == pytest.approx(0.7, abs=0.02)
    assert audio.duration(out) == pytest.approx(1.0, abs=0.03)


def test_silent_recording_is_refused(tmp_path):
    import subprocess
    silent = tmp_path / "silent.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=24000:cl=mono", "-t", "2",
                    "-sample_fmt", "s16", str(silent)], check=True)
    with pytest.raises(InvalidMedia, match="silent"):
        audio.trim_silence(silent, tmp_path / "out.wav")


def test_missing_ffmpeg_is_explained(tmp_path, monkeypatch):
    from media_pipeline import tools
    from media_pipeline.errors import ToolMissing
    from studio.config import load_config
    binaries = load_config({"STUDIO_INSTANCE": str(tmp_path / "i"),
                            "STUDIO_FFMPEG_BIN": str(tmp_path / "no-ffmpeg")})["TOOL_BINARIES"]
    assert binaries == {"ffmpeg": str(tmp_path / "no-ffmpeg")}
    tools.configure(binaries)
    try:
        with pytest.raises(ToolMissing, match="STUDIO_FFMPEG_BIN"):
            audio.to_work_format(tmp_path / "x.wav", tmp_path / "y.wav")
    finally:
        tools.configure({})
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("ffmpeg") is None
    with pytest.raises(ToolMissing, match="apt-get install ffmpeg"):
        audio.to_work_format(tmp_path / "x.wav", tmp_path / "y.wav")
