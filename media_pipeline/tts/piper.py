"""Piper neural voices (optional extra `piper-tts`), read from a models folder of `*.onnx` + `*.onnx.json`."""
from __future__ import annotations

import json
import os
import wave
from pathlib import Path

from media_pipeline.errors import EngineError
from media_pipeline.tts import SynthesisRequest, Voice, register

try:
    from piper import PiperVoice, SynthesisConfig
except ImportError:  # optional: without the package the engine does not register
    PiperVoice = None

if PiperVoice is not None:
    @register
    class PiperEngine:
        """Loads each voice model once, on first use."""

        name = "piper"

        def __init__(self, **options):
            self.models_dir = Path(options.get("models_dir") or os.environ.get("STUDIO_PIPER_MODELS", "piper-voices"))
            self._loaded: dict[str, object] = {}

        def version(self) -> str:
            from importlib.metadata import version
            return f"piper-tts {version('piper-tts')}"

        def voices(self) -> list[Voice]:
            out = []
            for cfg in sorted(self.models_dir.glob("*.onnx.json")):
                meta = json.loads(cfg.read_text())
                lang = (meta.get("language") or {}).get("family") or cfg.name.split("_")[0]
                out.append(Voice(cfg.name[:-len(".onnx.json")], lang, cfg.name[:-len(".onnx.json")]))
            return out

        def synthesize(self, req: SynthesisRequest, out_wav: Path) -> Path:
            voice_id = req.voice or next((v.id for v in self.voices() if v.language == req.language), None)
            if voice_id is None:
                raise EngineError(f"no Piper voice for {req.language!r} in {self.models_dir}")
            if voice_id not in self._loaded:
                model = self.models_dir / f"{voice_id}.onnx"
                if not model.exists():
                    raise EngineError(f"Piper model {model} is missing")
                self._loaded[voice_id] = PiperVoice.load(str(model))
            # Piper's length_scale stretches time: slower speech is a larger scale.
            config = SynthesisConfig(length_scale=1.0 / max(0.25, req.speed))
            with wave.open(str(out_wav), "wb") as w:
                self._loaded[voice_id].synthesize_wav(req.text, w, syn_config=config)
            return out_wav
