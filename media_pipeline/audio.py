"""Audio: join sentences with their timings, trim silence, two-pass loudness normalisation, measurement.

The ffmpeg filter graphs are built with ffmpeg-python (`ffmpeg.input(...).filter(...).output(...)`) and run by
`tools.ffmpeg`; the PCM joining and trimming read the samples with the standard library instead (no process).
"""
from __future__ import annotations

import array
import json
import logging
import re
import wave
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from media_pipeline import tools
from media_pipeline.errors import EngineError, InvalidMedia

log = logging.getLogger(__name__)
WORK_RATE = 24000  # every sentence is brought to 24 kHz mono s16 before joining


@dataclass
class Cue:
    """One sentence's place in the narration."""

    start: float
    end: float
    text: str


def to_work_format(src: Path, dst: Path) -> Path:
    """Any audio -> 24 kHz mono 16-bit WAV (the format sentences are joined in)."""
    tools.ffmpeg(ffmpeg.input(str(src)).output(str(dst), vn=None, ac=1, ar=WORK_RATE, sample_fmt="s16")
                 .global_args("-v", "error").overwrite_output())
    return dst


def _read_pcm(path: Path) -> tuple[array.array, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise InvalidMedia(f"{path.name}: expected 16-bit mono WAV")
        return array.array("h", w.readframes(w.getnframes())), w.getframerate()


def _is_work_format(path: Path) -> bool:
    with wave.open(str(path), "rb") as w:
        return w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == WORK_RATE


def join_sentences(parts: list[tuple[Path, str]], out_wav: Path, pause_s: float = 0.35) -> list[Cue]:
    """Concatenate sentence WAVs with a pause between them; return each sentence's start and end."""
    cues: list[Cue] = []
    gap = array.array("h", bytes(int(pause_s * WORK_RATE) * 2))
    with wave.open(str(out_wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(WORK_RATE)
        pos = 0
        for i, (path, text) in enumerate(parts):
            if not _is_work_format(path):
                path = to_work_format(path, path.with_name(path.stem + ".24k.wav"))
            pcm, _rate = _read_pcm(path)
            lead, tail = _silent_edges(pcm, WORK_RATE)
            pcm = pcm[lead:len(pcm) - tail]  # each sentence is trimmed, so pauses are ours alone
            if i:
                out.writeframes(gap.tobytes())
                pos += len(gap)
            cues.append(Cue(pos / WORK_RATE, (pos + len(pcm)) / WORK_RATE, text))
            out.writeframes(pcm.tobytes())
            pos += len(pcm)
    return cues


def _silent_edges(pcm: array.array, rate: int, threshold_db: float = -45.0) -> tuple[int, int]:
    """Samples of silence at the start and at the end (10 ms resolution)."""
    limit = int(32768 * 10 ** (threshold_db / 20))
    step = max(1, rate // 100)
    n = len(pcm)
    lead = 0
    while lead < n and max(map(abs, pcm[lead:lead + step]), default=0) < limit:
        lead += step
    tail = 0
    while tail < n - lead and max(map(abs, pcm[max(0, n - tail - step):n - tail]), default=0) < limit:
        tail += step
    return min(lead, n), min(tail, n - min(lead, n))


def trim_silence(src: Path, dst: Path) -> float:
    """Trim leading and trailing silence of a WAV in work format; returns seconds removed at the start."""
    pcm, rate = _read_pcm(src)
    lead, tail = _silent_edges(pcm, rate)
    if lead + tail >= len(pcm):
        raise InvalidMedia("the recording is silent")
    with wave.open(str(dst), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm[lead:len(pcm) - tail].tobytes())
    return lead / rate


@dataclass
class Loudness:
    """EBU R128 integrated loudness (LUFS), true peak (dBTP) and loudness range (LU)."""

    integrated: float
    true_peak: float
    lra: float


def measure(path: Path) -> Loudness:
    """Measure with ffmpeg's ebur128 filter (true peak on), independently of loudnorm."""
    proc = tools.ffmpeg(ffmpeg.input(str(path)).audio.filter("ebur128", peak="true").output("-", f="null")
                        .global_args("-hide_banner", "-nostats"))
    text = proc.stderr.decode(errors="replace")
    summary = text[text.rfind("Summary:"):]
    try:
        i = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
        lra = float(re.search(r"LRA:\s+(-?[\d.]+) LU", summary).group(1))
        peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    except (AttributeError, ValueError) as exc:
        raise EngineError(f"could not read ebur128 summary of {path.name}") from exc
    return Loudness(i, peak, lra)


MIN_LOUDNORM_S = 3.5  # loudnorm needs about 3 s; shorter audio is padded with silence (the gate ignores it)


def loudnorm_two_pass(src: Path, dst_wav: Path, target_lufs: float = -16.0, true_peak: float = -1.5,
                      lra: float = 11.0, sample_rate: int = 44100, channels: int = 1) -> Path:
    """Measure, then normalise with the measured values (linear gain when the peak limit allows); PCM out."""
    length = duration(src) if src.suffix == ".wav" else 0.0
    short = 0 < length < MIN_LOUDNORM_S

    def source():  # the input, padded to loudnorm's minimum when short (the gate ignores the silence)
        audio = ffmpeg.input(str(src)).audio
        return audio.filter("apad", whole_dur=MIN_LOUDNORM_S) if short else audio
    target = {"I": target_lufs, "TP": true_peak, "LRA": lra}
    first = tools.ffmpeg(source().filter("loudnorm", **target, print_format="json").output("-", f="null")
                         .global_args("-hide_banner", "-nostats"))
    text = first.stderr.decode(errors="replace")
    try:
        stats = json.loads(text[text.rfind("{"):text.rfind("}") + 1])
    except ValueError as exc:
        raise EngineError("loudnorm first pass printed no measurement") from exc
    if stats["input_i"] in ("-inf", "inf"):
        raise InvalidMedia("the audio is silent; there is nothing to normalise")
    graph = source().filter("loudnorm", **target, measured_I=stats["input_i"], measured_TP=stats["input_tp"],
                             measured_LRA=stats["input_lra"], measured_thresh=stats["input_thresh"],
                             offset=stats["target_offset"], linear="true").filter("aresample", sample_rate)
    if short:
        graph = graph.filter("atrim", 0, f"{length:.4f}")
    tools.ffmpeg(graph.output(str(dst_wav), ac=channels, ar=sample_rate, **{"c:a": "pcm_s16le"})
                 .global_args("-v", "error").overwrite_output())
    return dst_wav


def _correct_gain(src: Path, dst: Path, gain_db: float, ceiling_db: float) -> Path:
    """A final small gain with a peak limiter, when loudnorm's dynamic fallback left the level off target."""
    limit = 10 ** (ceiling_db / 20)
    tools.ffmpeg(ffmpeg.input(str(src)).audio.filter("volume", f"{gain_db:.2f}dB")
                 .filter("alimiter", limit=f"{limit:.4f}", level="disabled", attack=2, release=40)
                 .output(str(dst), **{"c:a": "pcm_s16le"}).global_args("-v", "error").overwrite_output())
    return dst


def master(src: Path, dst: Path, target_lufs: float, true_peak: float, sample_rate: int, channels: int,
           codec_args: list[str], intro: Path | None = None, outro: Path | None = None) -> Loudness:
    """Loudness-normalise (with optional jingles), correct what is left, encode once, measure the result."""
    src_for_norm = src
    if intro or outro:
        parts = [p for p in (intro, src, outro) if p]
        joined = dst.with_name(dst.stem + ".joined.wav")
        streams = [ffmpeg.input(str(p)).audio.filter("aformat", sample_rates=WORK_RATE, channel_layouts="mono")
                   for p in parts]
        tools.ffmpeg(ffmpeg.concat(*streams, v=0, a=1).output(str(joined)).global_args("-v", "error")
                     .overwrite_output())
        src_for_norm = joined
    # Lossy encoders overshoot the limiter by a few tenths of a dB: aim half a dB under the ceiling.
    ceiling = true_peak - 0.5
    norm = loudnorm_two_pass(src_for_norm, dst.with_name(dst.stem + ".norm.wav"), target_lufs, ceiling,
                             sample_rate=sample_rate, channels=channels)
    level = measure(norm)
    if abs(level.integrated - target_lufs) > 0.4:
        norm = _correct_gain(norm, dst.with_name(dst.stem + ".gain.wav"), target_lufs - level.integrated, ceiling)
    codec = dict(zip((a.lstrip("-") for a in codec_args[::2]), codec_args[1::2]))

    def encode(pcm: Path) -> None:
        tools.ffmpeg(ffmpeg.input(str(pcm)).output(str(dst), **codec, ar=sample_rate, ac=channels)
                     .global_args("-v", "error").overwrite_output())
    encode(norm)
    result = measure(dst)
    if abs(result.integrated - target_lufs) > 0.4:
        # The encoder itself moved the level (a 64 kbit/s MP3 loses highs): compensate once on the PCM.
        norm = _correct_gain(norm, dst.with_name(dst.stem + ".enc.wav"), target_lufs - result.integrated, ceiling)
        encode(norm)
        result = measure(dst)
    return result


def duration(path: Path) -> float:
    """Length of a WAV in seconds (no subprocess)."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def pauses(path: Path, min_s: float = 0.08, below_speech_db: float = 30.0, floor_db: float = -50.0,
           frame_s: float = 0.01) -> list[tuple[float, float]]:
    """The pauses of a recording in work format as (start, end) seconds: runs of 10 ms frames quieter than the
    speech (its 90th-percentile frame level less `below_speech_db`, and never above -30 dBFS) lasting at least
    `min_s`. Relative to the speaker's level, so a quiet room and a noisy one both give their real pauses."""
    import numpy as np
    pcm, rate = _read_pcm(path)
    samples = np.frombuffer(pcm.tobytes(), dtype=np.int16).astype(np.float32) / 32768.0
    step = max(1, int(rate * frame_s))
    frames = len(samples) // step
    if frames == 0:
        return []
    rms = np.sqrt(np.mean(samples[:frames * step].reshape(frames, step) ** 2, axis=1) + 1e-12)
    level = 20 * np.log10(rms)
    threshold = min(-30.0, max(floor_db, float(np.percentile(level, 90)) - below_speech_db))
    quiet = level < threshold
    out, start = [], None
    for i, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if (i - start) * frame_s >= min_s:
                out.append((round(start * frame_s, 3), round(i * frame_s, 3)))
            start = None
    return out
