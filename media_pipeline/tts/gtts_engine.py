"""Google Translate's TTS through gTTS: online only; MP3 from Google, converted to WAV here."""
from __future__ import annotations

from pathlib import Path

from media_pipeline import tools
from media_pipeline.errors import EngineError
from media_pipeline.tts import SynthesisRequest, Voice, register

try:
    import gtts
    from gtts import gTTS
    from gtts.tts import gTTSError
except ImportError:  # optional: without the package the engine does not register
    gtts = None

LANGS = {"vi": "vi", "en": "en", "zh": "zh-CN", "km": "km", "lo": "lo", "fr": "fr"}
# gTTS accents are chosen through the Google domain (tld); Vietnamese has one.
TLDS = {"en": "com", "fr": "fr"}

if gtts is not None:
    @register
    class GttsEngine:
        """One request per sentence to translate.google.com; needs the Internet."""

        name = "gtts"

        def __init__(self, **options):
            self.timeout = float(options.get("timeout", 20))

        def version(self) -> str:
            return getattr(gtts, "__version__", "unknown")

        def voices(self) -> list[Voice]:
            return [Voice(f"gtts-{lang}", lang, f"Google ({lang})") for lang in LANGS]

        def synthesize(self, req: SynthesisRequest, out_wav: Path) -> Path:
            lang = LANGS.get(req.language)
            if lang is None:
                raise EngineError(f"gTTS has no voice for {req.language!r}")
            mp3 = out_wav.with_suffix(".mp3")
            try:
                tts = gTTS(req.text, lang=lang, tld=TLDS.get(req.language, "com"), slow=req.speed < 0.8, lang_check=False,
                           timeout=self.timeout)
                tts.save(str(mp3))
            except (gTTSError, OSError) as exc:
                raise EngineError(f"gTTS could not reach Google's speech service: {exc}") from exc
            tools.run("ffmpeg", ["-v", "error", "-y", "-i", str(mp3), "-ac", "1", "-ar", "24000", str(out_wav)])
            mp3.unlink(missing_ok=True)
            return out_wav
