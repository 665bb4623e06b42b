"""The Piper adapter with a real piper-tts and onnxruntime, on a tiny voice built here.

Real Piper voices are downloaded from Hugging Face, which cannot be reached here. The test builds a voice in
Piper's format instead: an ONNX graph with Piper's inputs (phoneme ids, lengths, scales) whose output is a tone
256 samples long per phoneme id, and a config whose phoneme map covers the IPA espeak-ng produces. piper-tts's
own phonemizer, id mapping, inference and WAV writing all run for real; only the voice is not a trained one.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("piper", reason="Piper is an optional extra: pip install 'studio[piper]'")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper  # noqa: E402

from media_pipeline.errors import EngineError  # noqa: E402
from media_pipeline.tts import SynthesisRequest, make_engines, registered  # noqa: E402
from tests.media_pipeline.conftest import ffprobe  # noqa: E402

SAMPLES_PER_ID = 256


def tiny_voice(folder: Path, name: str = "vi_VN-test-x_low") -> Path:
    """Write NAME.onnx and NAME.onnx.json: a Piper-format voice whose audio length follows the phoneme count."""
    folder.mkdir(parents=True, exist_ok=True)
    inputs = [helper.make_tensor_value_info("input", TensorProto.INT64, [1, None]),
              helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
              helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3])]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, None])
    nodes = [
        helper.make_node("Cast", ["input"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["ids", "axis1"], ["ids3"]),
        helper.make_node("Tile", ["ids3", "repeats"], ["tiled"]),
        helper.make_node("Mul", ["tiled", "freq"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["wave", "gain"], ["output"]),
    ]
    inits = [helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
             helper.make_tensor("repeats", TensorProto.INT64, [3], [1, 1, SAMPLES_PER_ID]),
             helper.make_tensor("freq", TensorProto.FLOAT, [], [0.37]),
             helper.make_tensor("gain", TensorProto.FLOAT, [], [0.5])]
    graph = helper.make_graph(nodes, "tiny-piper", inputs, [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, folder / f"{name}.onnx")
    symbols = ["_", "^", "$", " "] + [chr(c) for c in range(0x21, 0x7F)] + \
        [chr(c) for c in range(0x0250, 0x02FF)] + [chr(c) for c in range(0x0300, 0x0370)] + \
        [chr(c) for c in range(0x00C0, 0x0250)]
    config = {"num_symbols": len(symbols), "num_speakers": 1, "audio": {"sample_rate": 22050},
              "espeak": {"voice": "vi"}, "language": {"family": "vi", "code": "vi_VN"},
              "phoneme_type": "espeak", "phoneme_id_map": {s: [i] for i, s in enumerate(symbols)},
              "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}}
    (folder / f"{name}.onnx.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return folder


def test_piper_registers_lists_voices_and_synthesizes(tmp_path):
    assert "piper" in registered()
    engine = make_engines(["piper"], {"piper": {"models_dir": str(tiny_voice(tmp_path / "voices"))}})[0]
    voices = engine.voices()
    assert [(v.id, v.language) for v in voices] == [("vi_VN-test-x_low", "vi")]
    short = engine.synthesize(SynthesisRequest("Xin chào", "vi"), tmp_path / "short.wav")
    long = engine.synthesize(SynthesisRequest("Xin chào bà con xã Đồng Đăng, hôm nay trời mưa to", "vi"),
                             tmp_path / "long.wav")
    a, b = ffprobe(short)["streams"][0], ffprobe(long)["streams"][0]
    assert (a["codec_name"], a["sample_rate"], a["channels"]) == ("pcm_s16le", "22050", 1)
    # More phonemes, more audio: the text went through espeak phonemes and ids into the model.
    assert float(b["duration"]) > 2 * float(a["duration"]) > 0


def test_piper_without_a_voice_for_the_language_says_where_it_looked(tmp_path):
    engine = make_engines(["piper"], {"piper": {"models_dir": str(tmp_path / "empty")}})[0]
    with pytest.raises(EngineError, match="no Piper voice for 'lo'"):
        engine.synthesize(SynthesisRequest("ສະບາຍດີ", "lo"), tmp_path / "x.wav")


def test_studio_models_install_takes_a_piper_voice(tmp_path):
    """`studio models install VOICE.onnx` checks the voice by making it speak, then copies it (and its
    configuration) where the studio's Piper engine reads voices; a broken one installs nothing."""
    import os
    import subprocess
    import sys

    from tests.helpers import ROOT
    voice = tiny_voice(tmp_path / "download", "vi_VN-xa-x_low") / "vi_VN-xa-x_low.onnx"
    folder = tmp_path / "instance" / "piper-voices"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env["STUDIO_INSTANCE"] = str(tmp_path / "instance")

    def models(*args):
        return subprocess.run([sys.executable, "-m", "studio.cli", "models", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    done = models("install", str(voice))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["vi_VN-xa-x_low.onnx", "vi_VN-xa-x_low.onnx.json"]
    assert "Piper voice vi_VN-xa-x_low" in models("list").stdout
    engine = make_engines(["piper"], {"piper": {"models_dir": folder}})[0]
    assert [v.id for v in engine.voices()] == ["vi_VN-xa-x_low"]
    # Broken configuration, no configuration, not an ONNX graph: refused with the reason, nothing copied.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "v2.onnx").write_bytes(voice.read_bytes())
    (bad / "v2.onnx.json").write_text("{not json", encoding="utf-8")
    (bad / "v3.onnx").write_bytes(voice.read_bytes())
    (bad / "v4.onnx").write_bytes(b"\x00" * 64)
    (bad / "v4.onnx.json").write_text((voice.parent / "vi_VN-xa-x_low.onnx.json").read_text(encoding="utf-8"),
                                      encoding="utf-8")
    for name, why in (("v2.onnx", "not valid JSON"), ("v3.onnx", "must be beside it"),
                      ("v4.onnx", "does not load as a Piper voice")):
        out = models("install", str(bad / name))
        assert out.returncode == 2 and why in out.stderr, out.stderr
    assert len(list(folder.iterdir())) == 2
