"""Build small but real Argos Translate packages for tests and benchmarks.

No Argos model can be downloaded here, so a package is made the way Argos makes one: a SentencePiece model trained
on a small corpus and a CTranslate2 Transformer, here with random weights (its output is meaningless; what runs
around it is real: loading, tokenising, batching, decoding, packaging).
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

CORPUS = [
    "Ủy ban nhân dân xã thông báo lịch tiêm chủng mở rộng cho trẻ em dưới năm tuổi.",
    "Người dân mang theo sổ tiêm chủng và căn cước công dân khi đến trạm y tế.",
    "Bà con chú ý phòng chống bão lũ, không đi qua suối khi nước dâng cao.",
    "The commune people's committee announces the vaccination schedule for children.",
    "Please bring your vaccination book and identity card to the health station.",
    "Residents should prepare for the storm and avoid crossing streams in flood.",
    "乡人民委员会通知五岁以下儿童扩大免疫接种时间表。",
    "请携带疫苗接种本和身份证到卫生站。",
    "Trạm y tế xã Thanh Thủy, huyện Vị Xuyên, tỉnh Hà Giang.",
    "Thanh Thuy commune health station, Vi Xuyen district, Ha Giang province.",
]


def train_sentencepiece(vocab_size: int = 600) -> bytes:
    """A SentencePiece model trained on the corpus above (byte fallback, so any text tokenises)."""
    import sentencepiece as spm

    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS * 20), model_writer=out, vocab_size=vocab_size,
                                   character_coverage=1.0, byte_fallback=True, model_type="unigram",
                                   minloglevel=2, hard_vocab_limit=False)
    return out.getvalue()


def _pieces(sp_model: bytes) -> list[str]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=sp_model)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def save_ctranslate2(out_dir: Path, vocab: list[str], d_model: int = 32, layers: int = 1, heads: int = 2,
                     ffn: int = 64, seed: int = 0) -> None:
    """Write a CTranslate2 Transformer with random weights and the given shared vocabulary."""
    from ctranslate2.specs import transformer_spec

    rng = np.random.default_rng(seed)

    def rnd(*shape):
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)

    def linear(spec, out, inp):
        spec.weight, spec.bias = rnd(out, inp), rnd(out)

    def norm(spec):
        spec.gamma, spec.beta = np.ones(d_model, np.float32), np.zeros(d_model, np.float32)

    def attention(spec, self_attention):
        norm(spec.layer_norm)
        if self_attention:
            linear(spec.linear[0], 3 * d_model, d_model)
        else:
            linear(spec.linear[0], d_model, d_model)
            linear(spec.linear[1], 2 * d_model, d_model)
        linear(spec.linear[-1], d_model, d_model)

    def feed_forward(spec):
        norm(spec.layer_norm)
        linear(spec.linear_0, ffn, d_model)
        linear(spec.linear_1, d_model, ffn)

    spec = transformer_spec.TransformerSpec.from_config(layers, heads)
    spec.encoder.embeddings[0].weight = rnd(len(vocab), d_model)
    norm(spec.encoder.layer_norm)
    for layer in spec.encoder.layer:
        attention(layer.self_attention, True)
        feed_forward(layer.ffn)
    spec.decoder.embeddings.weight = rnd(len(vocab), d_model)
    norm(spec.decoder.layer_norm)
    linear(spec.decoder.projection, len(vocab), d_model)
    for layer in spec.decoder.layer:
        attention(layer.self_attention, True)
        attention(layer.attention, False)
        feed_forward(layer.ffn)
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.optimize(quantization="int8")
    out_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(out_dir))


def build_package(dest: Path, from_code: str, to_code: str, d_model: int = 32, layers: int = 1,
                  seed: int = 0) -> Path:
    """Write FROM_TO.argosmodel (a zip of one folder: metadata.json, model/, sentencepiece.model) into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    sp_model = train_sentencepiece()
    work = dest / f"build-{from_code}_{to_code}"
    model_dir = work / "model"
    save_ctranslate2(model_dir, _pieces(sp_model), d_model=d_model, layers=layers, seed=seed)
    metadata = {"package_version": "1.0", "argos_version": "1.0", "from_code": from_code, "to_code": to_code,
                "from_name": from_code, "to_name": to_code, "type": "translate",
                "description": "test package with random weights"}
    name = f"translate-{from_code}_{to_code}-1_0"
    path = dest / f"{from_code}_{to_code}.argosmodel"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}/metadata.json", json.dumps(metadata))
        z.writestr(f"{name}/sentencepiece.model", sp_model)
        for f in sorted(model_dir.iterdir()):
            z.write(f, f"{name}/model/{f.name}")
    return path
