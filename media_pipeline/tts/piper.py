"""Piper neural voices (optional extra `piper-tts`), read from a models folder of `*.onnx` + `*.onnx.json`;
`install` checks a voice and copies it there (`studio models install VOICE.onnx`)."""
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


def install(model: Path, models_dir: Path) -> str:
    """Check a Piper voice (VOICE.onnx with VOICE.onnx.json beside it) by loading it and speaking one word, then
    copy both into models_dir (a temporary name first, so a reader never sees half a voice); returns its id."""
    import shutil
    import tempfile
    model = Path(model)
    config = model.with_name(model.name + ".json")
    if model.suffix != ".onnx" or not model.is_file():
        raise EngineError(f"{model.name}: a Piper voice is a .onnx file")
    if not config.is_file():
        raise EngineError(f"{model.name}: its configuration {config.name} must be beside it")
    try:
        meta = json.loads(config.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EngineError(f"{config.name} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or "phoneme_id_map" not in meta or "sample_rate" not in meta.get("audio", {}):
        raise EngineError(f"{config.name} is not a Piper voice configuration (no phoneme_id_map or sample rate)")
    if PiperVoice is None:
        raise EngineError("Piper is not installed on this studio: pip install 'studio[piper]'")
    try:
        voice = PiperVoice.load(str(model))
        with tempfile.TemporaryDirectory() as d, wave.open(str(Path(d) / "t.wav"), "wb") as w:
            voice.synthesize_wav("a", w)
    except Exception as exc:  # noqa: BLE001 - onnxruntime and the phonemizer raise many kinds: one message
        raise EngineError(f"{model.name} does not load as a Piper voice: {exc}") from None
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    voice_id = model.name[:-len(".onnx")]
    for src, name in ((model, f"{voice_id}.onnx"), (config, f"{voice_id}.onnx.json")):
        tmp = models_dir / f".{name}.part"
        shutil.copyfile(src, tmp)
        os.replace(tmp, models_dir / name)  # the .onnx.json last: voices() lists a voice by it
    return voice_id

if PiperVoice is not None:
    @register
    class PiperEngine:
        """Loads each voice model once, on first use."""

        name = "piper"

        def __init__(self, **options):
            self.models_dir = Path(options.get("models_dir") or "piper-voices")  # the studio passes PIPER_MODELS
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
