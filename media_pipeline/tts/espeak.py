"""eSpeak NG: offline, Vietnamese (northern, central, southern), English and Mandarin voices."""
from __future__ import annotations

from pathlib import Path

from media_pipeline import tools
from media_pipeline.errors import EngineError
from media_pipeline.tts import SynthesisRequest, Voice, register

# Our language codes -> espeak-ng voice ids (and the accents editors may pick).
VOICES = [
    Voice("vi", "vi", "Tiếng Việt (miền Bắc)", "north"),
    Voice("vi-vn-x-central", "vi", "Tiếng Việt (miền Trung)", "central"),
    Voice("vi-vn-x-south", "vi", "Tiếng Việt (miền Nam)", "south"),
    Voice("en", "en", "English"),
    Voice("cmn-latn-pinyin", "zh", "普通话 (Mandarin)"),
]
# espeak-ng's "cmn" voice turns Chinese characters into pinyin and reads that pinyin as English ("qing3" came
# out as "king three"; Whisper heard "Kin 3 4 4 4"). "cmn-latn-pinyin" reads it as Mandarin. A voice stored as
# "cmn" by earlier versions is read with the right one.
ALIASES = {"cmn": "cmn-latn-pinyin"}
BASE_WPM = 160


@register
class EspeakEngine:
    """Runs `espeak-ng -w out.wav` once per sentence."""

    name = "espeak"

    def __init__(self, **_options):
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:  # asked once per render key; the program does not change under us
            out = tools.run("espeak-ng", ["--version"]).stdout.decode()
            self._version = out.split("text-to-speech:")[-1].split("Data")[0].strip() or out.strip()
        return self._version

    def voices(self) -> list[Voice]:
        try:
            tools.find("espeak-ng")
        except EngineError:
            return []
        return list(VOICES)

    def synthesize(self, req: SynthesisRequest, out_wav: Path) -> Path:
        voice = req.voice or next((v.id for v in VOICES if v.language == req.language), None)
        voice = ALIASES.get(voice, voice)
        if voice is None or voice not in {v.id for v in VOICES}:
            raise EngineError(f"espeak-ng has no voice for {req.language!r}")
        wpm = max(80, min(400, int(BASE_WPM * req.speed)))
        tools.run("espeak-ng", ["-v", voice, "-s", str(wpm), "-w", str(out_wav), "--stdin"],
                  timeout=120, input=req.text.encode("utf-8"))
        if not out_wav.exists():
            raise EngineError("espeak-ng wrote no audio")
        return out_wav
