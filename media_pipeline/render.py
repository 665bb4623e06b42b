"""One rendition from prepared inputs: narration (synthesized or recorded), captions, audio or video per profile.

No database and no object store here: the studio's rendering service feeds this and stores what it returns.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from media_pipeline import alignment, audio, captions, compose, layout, tools, validate
from media_pipeline.audio import Cue
from media_pipeline.errors import EngineError, InvalidMedia
from media_pipeline.profiles import Profile, audio_codec_args
from media_pipeline.publication import Book
from media_pipeline.text.normalize_vi import normalize as normalize_vi
from media_pipeline.tts import Engine, NoVoice, SynthesisRequest

log = logging.getLogger(__name__)
Progress = Callable[[int, str], None]


@dataclass
class VoiceChoice:
    """Which engine and voice speak a language, and whether it is an approximation (Tày read as Vietnamese)."""

    engine: str
    voice: str | None
    language: str            # the language the voice speaks
    speed: float = 1.0
    approximate: bool = False


@dataclass
class Narration:
    """A spoken version of the sentences with each one's timing."""

    wav: Path
    cues: list[Cue]
    engine: str = ""
    approximate: bool = False


@dataclass
class Output:
    """One file of a rendition."""

    role: str
    path: Path
    mime: str


@dataclass
class Result:
    """Files, timings and measurements of one rendition."""

    outputs: list[Output] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)
    duration_s: float = 0.0
    lufs: float | None = None
    true_peak: float | None = None


def spoken_form(sentence: str, language: str, rules: dict | None = None) -> str:
    """What the engine is given: Vietnamese is normalised (with a province's `rules` over the packaged ones);
    other languages are read as written."""
    return normalize_vi(sentence, rules) if language == "vi" else sentence


def synthesize(sentences: list[str], choice: VoiceChoice, engines: dict[str, Engine], workdir: Path,
               progress: Progress, rules: dict | None = None) -> Narration:
    """Speak sentence by sentence, so each sentence's start and end are known."""
    if not sentences:
        raise InvalidMedia("there is no text to read aloud")
    engine = engines.get(choice.engine)
    if engine is None:
        raise NoVoice(f"speech engine {choice.engine!r} is not configured")
    parts = []
    for i, sentence in enumerate(sentences):
        wav = workdir / f"sentence-{i:05d}.wav"
        engine.synthesize(SynthesisRequest(spoken_form(sentence, choice.language, rules), choice.language,
                                           choice.voice, choice.speed), wav)
        parts.append((wav, sentence))
        progress(int(60 * (i + 1) / len(sentences)), f"synthesized sentence {i + 1}/{len(sentences)}")
    joined = workdir / "narration.wav"
    cues = audio.join_sentences(parts, joined)
    for wav, _ in parts:
        wav.unlink(missing_ok=True)
    return Narration(joined, cues, engine=f"{engine.name} {engine.version()}", approximate=choice.approximate)


def from_recording(recording: Path, sentences: list[str], workdir: Path,
                   recognise: Callable[[Path], list[Cue]] | None = None) -> Narration:
    """A human recording, trimmed, with each sentence's timing taken from the recording itself: Whisper's word
    timings where `recognise` is given (a language Whisper knows), else the recording's pauses."""
    work = audio.to_work_format(recording, workdir / "recording.wav")
    trimmed = workdir / "narration.wav"
    audio.trim_silence(work, trimmed)
    total = audio.duration(trimmed)
    words = recognise(trimmed) if recognise else []
    cues = alignment.sentences_to_recording(sentences, total, audio.pauses(trimmed), words)
    return Narration(trimmed, cues, engine="recording " + ("aligned by words" if words else "aligned by pauses"))


def spread_cues(sentences: list[str], start: float, end: float) -> list[Cue]:
    """Share [start, end] among sentences in proportion to their length."""
    weights = [max(1, len(s)) for s in sentences]
    total, t, out = sum(weights), start, []
    for s, w in zip(sentences, weights):
        d = (end - start) * w / total
        out.append(Cue(round(t, 3), round(t + d, 3), s))
        t += d
    return out


def reading_cues(sentences: list[str], chars_per_second: float = 14.0, minimum: float = 2.5) -> list[Cue]:
    """Timings for silent boards: long enough to read each sentence."""
    t, out = 0.0, []
    for s in sentences:
        d = max(minimum, len(s) / chars_per_second)
        out.append(Cue(round(t, 3), round(t + d, 3), s))
        t += d
    return out


def align(translated: list[str], cues: list[Cue]) -> list[Cue]:
    """Translated sentences on the source timings (one to one), or spread over the whole if counts differ."""
    if len(translated) == len(cues):
        return [Cue(c.start, c.end, t) for c, t in zip(cues, translated)]
    return spread_cues(translated, cues[0].start if cues else 0.0, cues[-1].end if cues else 0.0)


def slide_durations(n_slides: int, total: float) -> list[float]:
    """Title card a little shorter than the others; everything adds up to `total`."""
    if n_slides == 1:
        return [total]
    first = min(total / n_slides, 4.0)
    rest = (total - first) / (n_slides - 1)
    return [first] + [rest] * (n_slides - 1)


def _publication(profile: Profile, book: Book | None, narration: Narration | None, workdir: Path,
                 progress: Progress) -> Result:
    """An EPUB (narrated when the profile has audio) or a PDF."""
    from media_pipeline.publication import Narration as BookNarration
    from media_pipeline.publication.epub import build_epub
    from media_pipeline.publication.pdf import build_pdf
    if book is None:
        raise EngineError(f"profile {profile.name} needs the publication's structure")
    result = Result()
    out = workdir / f"{profile.name}.{profile.container}"
    if profile.kind == "pdf":
        progress(70, "laying out the PDF")
        build_pdf(book, out)
        result.outputs.append(Output("pdf", out, "application/pdf"))
        return result
    overlay = None
    if profile.audio:
        if narration is None:
            raise EngineError(f"profile {profile.name} needs narration")
        progress(65, "encoding the narration for the e-book")
        mp3 = workdir / "narration.mp3"
        tools.run("ffmpeg", ["-v", "error", "-y", "-i", str(narration.wav), "-ac", "1", "-c:a", "libmp3lame",
                             "-b:a", str(profile.audio_bitrate), str(mp3)])
        overlay = BookNarration(mp3, narration.cues)
        result.cues = narration.cues
        result.duration_s = narration.cues[-1].end if narration.cues else 0.0
    progress(75, "building the EPUB")
    build_epub(book, out, overlay)
    result.outputs.append(Output("epub", out, "application/epub+zip"))
    return result


def render(profile: Profile, title: str, subtitle: str, caption_tracks: list[list[str]], narration: Narration | None,
           pictures: list[Path], workdir: Path, progress: Progress, qr_url: str | None = None,
           intro: Path | None = None, outro: Path | None = None, book: Book | None = None) -> Result:
    """Make, then check, every file of one profile. `caption_tracks[0]` is the narrated (or main) language.

    `intro`/`outro`: jingles played around the narration; captions move by the intro's length.
    `book`: the structure publication profiles (epub, pdf) are built from.
    """
    profile.validate_settings()
    if profile.kind in ("epub", "pdf"):
        return _publication(profile, book, narration, workdir, progress)
    result = Result()
    if profile.audio and narration is None:
        raise EngineError(f"profile {profile.name} needs narration")
    cues = narration.cues if narration else reading_cues(caption_tracks[0])
    lead = tail = 0.0
    if profile.audio:
        if intro is not None:
            intro = audio.to_work_format(intro, workdir / "intro.wav")
            lead = audio.duration(intro)
        if outro is not None:
            outro = audio.to_work_format(outro, workdir / "outro.wav")
            tail = audio.duration(outro)
        cues = [Cue(round(c.start + lead, 3), round(c.end + lead, 3), c.text) for c in cues]
    result.cues = cues
    total = (cues[-1].end + (0.6 if narration else 0.0) if cues else 0.0) + tail
    mastered = None
    if profile.audio:
        progress(65, "mastering audio")
        ext = "mp3" if profile.audio_codec == "mp3" else "m4a"
        mastered = workdir / f"{profile.name}.{ext}"
        loud = audio.master(narration.wav, mastered, profile.lufs, profile.true_peak, profile.sample_rate,
                            profile.channels, audio_codec_args(profile), intro=intro, outro=outro)
        result.lufs, result.true_peak = loud.integrated, loud.true_peak
        if profile.kind == "audio":
            result.outputs.append(Output("audio", mastered, "audio/mpeg" if ext == "mp3" else "audio/mp4"))
    if profile.kind == "video":
        progress(75, "composing video")
        size = (profile.width, profile.height)
        keep_clear = layout.caption_zone_height(*size) if profile.burn_captions else 0
        slides = [compose.title_card(title, subtitle, size, workdir / "slide-000.png",
                                     qr_url if profile.qr else None, keep_clear=keep_clear)]
        for i, pic in enumerate(pictures, 1):
            slides.append(compose.picture_slide(pic, size, workdir / f"slide-{i:03d}.png"))
        tracks = [cues] + [align(t, cues) for t in caption_tracks[1:profile.caption_languages]]
        stills = compose.compose_stills(slides, slide_durations(len(slides), total),
                                        tracks if profile.burn_captions else [], size, profile.fps, workdir)
        video = workdir / f"{profile.name}.mp4"
        compose.encode(stills, profile, video, audio=mastered,
                       progress=lambda f: progress(75 + int(14 * f), f"encoding video: {int(f * 100)}%"))
        result.outputs.append(Output("video", video, "video/mp4"))
        if profile.stills:
            result.outputs += [Output("still", s, "image/png") for s in slides]
    for kind in profile.sidecars:
        path = workdir / f"{profile.name}.{kind}"
        path.write_text(captions.to_srt(cues) if kind == "srt" else captions.to_vtt(cues), encoding="utf-8")
        result.outputs.append(Output(kind, path, "application/x-subrip" if kind == "srt" else "text/vtt"))
    progress(90, "checking the output against the profile")
    main = next(o for o in result.outputs if o.role in ("audio", "video"))
    report = validate.check(main.path, profile, expected_duration=total if profile.kind == "video" else None)
    result.duration_s = report.duration_s
    return result
