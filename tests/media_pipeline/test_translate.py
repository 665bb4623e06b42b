"""Machine translation on real Argos-format packages (CTranslate2 + SentencePiece built by the test).

The packages have random weights, so their output is meaningless: these tests check installing, refusing,
batching, pivoting and the messages for real, and check glossary logic through the engine interface.
"""
from __future__ import annotations

import json
import shutil
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from media_pipeline.errors import EngineError
from media_pipeline.text.sentences import split_sentences
from media_pipeline.translate import NoEngine, Router, argos, glossary, make_router
from media_pipeline.translate.argos import ArgosEngine, PackageInvalid


@pytest.fixture
def packages(argos_packages) -> Path:
    return argos_packages


@pytest.fixture
def models(tmp_path, packages) -> Path:
    """A models folder with both packages installed."""
    argos.install(packages, tmp_path / "models")
    return tmp_path / "models"


def _rewrite(src: Path, dest: Path, change) -> Path:
    """Copy a package zip, letting change(name, data) alter or drop (None) each member."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item))
            if data is not None:
                zout.writestr(item.filename, data)
    return dest


def test_install_lists_and_translates_in_one_batch(models):
    listed = {p.pair: p for p in argos.installed(models)}
    assert set(listed) == {("vi", "en"), ("en", "zh")}
    assert listed[("vi", "en")].version == "1.0"
    engine = ArgosEngine(models)
    loaded = engine._load("vi", "en")
    calls = []
    real = loaded.translator

    class Spy:  # count calls into CTranslate2; the real translator does the work
        def translate_batch(self, tokens, **kw):
            calls.append(len(tokens))
            return real.translate_batch(tokens, **kw)
    loaded.translator = Spy()
    try:
        segments = ["Xin chào bà con. Hôm nay trời mưa!", "", "Trạm y tế xã mở cửa từ 7 giờ."]
        out = engine.translate(segments, "vi", "en")
        assert len(out) == 3 and out[1] == "" and out[0] and out[2]
        assert calls == [3]  # three sentences, one call
        engine.translate_sentences(segments, "vi", "en", batched=False)
        assert calls[1:] == [1, 1, 1]
    finally:
        loaded.translator = real


def test_pivot_through_english_and_clear_error_for_missing_pair(models):
    router = make_router(["argos"], {"argos": {"models_dir": models}})
    out, how = router.translate(["Một câu.", "Hai câu."], "vi", "zh")
    assert len(out) == 2 and how == "argos vi→en, argos en→zh"
    with pytest.raises(NoEngine) as e:
        router.translate(["Một câu."], "vi", "hmn")
    msg = str(e.value)
    assert "vi→en" in msg and "en→zh" in msg and "studio models install" in msg
    with pytest.raises(NoEngine):
        Router([]).route("vi", "en")
    with pytest.raises(EngineError, match="not available"):
        make_router(["nllb"])


def test_our_segmenter_splits_chinese_punctuation_and_keeps_vietnamese_abbreviations():
    assert split_sentences("你好。今天下雨！明天呢？") == ["你好。", "今天下雨！", "明天呢？"]
    assert split_sentences("Ông Nguyễn Văn A, TP. Hà Giang, nói: Trời mưa. Về nhà!") == [
        "Ông Nguyễn Văn A, TP. Hà Giang, nói: Trời mưa.", "Về nhà!"]


def test_corrupt_and_foreign_packages_are_refused_and_install_nothing(tmp_path, packages):
    good = packages / "vi_en.argosmodel"
    models = tmp_path / "models"
    truncated = tmp_path / "truncated.argosmodel"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    not_zip = tmp_path / "notes.argosmodel"
    not_zip.write_text("hello")
    foreign = tmp_path / "foreign.argosmodel"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("photos/a.txt", "x")
    no_sp = _rewrite(good, tmp_path / "nosp.argosmodel", lambda n, d: None if n.endswith("sentencepiece.model") else d)
    bad_model = _rewrite(good, tmp_path / "badmodel.argosmodel",
                         lambda n, d: b"\0" * 64 if n.endswith("model.bin") else d)
    bad_meta = _rewrite(good, tmp_path / "badmeta.argosmodel",
                        lambda n, d: json.dumps({"from_code": "vi", "to_code": "vi"}).encode()
                        if n.endswith("metadata.json") else d)
    unsafe = tmp_path / "unsafe.argosmodel"
    with zipfile.ZipFile(unsafe, "w") as z:
        z.writestr("pkg/../../evil.txt", "x")
    cases = {truncated: "not a zip|corrupt", not_zip: "not a zip", foreign: "no metadata.json",
             no_sp: "no sentencepiece.model", bad_model: "CTranslate2 model does not load",
             bad_meta: "into itself", unsafe: "unsafe path"}
    for path, reason in cases.items():
        with pytest.raises(PackageInvalid, match=reason) as e:
            argos.install(path, models)
        assert "nothing was installed" in str(e.value)
    assert argos.installed(models) == []
    # A folder with one bad package among good ones installs none of them.
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(good, mixed / "a.argosmodel")
    shutil.copy(bad_model, mixed / "b.argosmodel")
    with pytest.raises(PackageInvalid, match="b.argosmodel"):
        argos.install(mixed, models)
    assert argos.installed(models) == []
    assert [p.name for p in (models / "argos").iterdir()] == []  # no staging left behind


def test_reinstall_replaces_the_pair(tmp_path, packages):
    models = tmp_path / "models"
    argos.install(packages / "vi_en.argosmodel", models)
    argos.install(packages / "vi_en.argosmodel", models)
    assert [p.pair for p in argos.installed(models)] == [("vi", "en")]


@pytest.fixture
def file_server(tmp_path):
    """A loopback HTTP server over a folder (stands in for the Argos index host, which is unreachable here)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_reads_the_index_and_installs(tmp_path, packages, file_server):
    root, url = file_server
    shutil.copy(packages / "vi_en.argosmodel", root / "vi_en.argosmodel")
    (root / "index.json").write_text(json.dumps([
        {"from_code": "vi", "to_code": "en", "type": "translate", "package_version": "1.0",
         "links": [f"{url}/missing.argosmodel", f"{url}/vi_en.argosmodel"]}]))
    models = tmp_path / "models"
    got = argos.download("vi", "en", models, f"{url}/index.json")
    assert [p.pair for p in got] == [("vi", "en")]
    with pytest.raises(EngineError, match="offers: vi→en"):
        argos.download("vi", "lo", models, f"{url}/index.json")
    with pytest.raises(EngineError, match="offline"):
        argos.download("vi", "en", models, "http://127.0.0.1:9/index.json", timeout=2)


def test_libretranslate_engine_batches_in_one_request(tmp_path):
    """A loopback server speaking LibreTranslate's API (no LibreTranslate server can be installed here)."""
    from http.server import BaseHTTPRequestHandler

    requests_seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send(200, [{"code": "vi", "name": "Vietnamese", "targets": ["en", "vi"]},
                             {"code": "en", "name": "English", "targets": ["vi"]}])

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests_seen.append(body)
            if body.get("api_key") != "k":
                return self._send(403, {"error": "Invalid API key"})
            self._send(200, {"translatedText": [f"<{body['target']}>{q}" for q in body["q"]]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        router = make_router(["libretranslate"], {"libretranslate": {"url": url, "api_key": "k"}})
        assert router.pairs() == {("vi", "en"), ("en", "vi")}
        out, how = router.translate(["một", "hai"], "vi", "en")
        assert out == ["<en>một", "<en>hai"] and how == "libretranslate vi→en"
        assert len(requests_seen) == 1
        bad = make_router(["libretranslate"], {"libretranslate": {"url": url, "api_key": "wrong"}})
        with pytest.raises(EngineError, match="403: Invalid API key"):
            bad.translate(["một"], "vi", "en")
    finally:
        server.shutdown()
    down = make_router(["libretranslate"], {"libretranslate": {"url": url, "timeout": 2, "languages_ttl": 0}})
    assert down.pairs() == set()  # unreachable: no pairs, so routing says so clearly
    with pytest.raises(NoEngine):
        down.route("vi", "en")


TERMS = [glossary.Term("Hà Giang"), glossary.Term("UBND", "People's Committee"),
         glossary.Term("xã Thanh Thủy")]


def test_glossary_protects_terms_through_an_engine_that_keeps_placeholders():
    """An engine that keeps placeholders (as good models do): terms come back in their required form."""
    def engine(texts):
        return [t.replace("thông báo", "announces").replace("tỉnh", "province") for t in texts]
    out = glossary.translate_protected(engine, ["UBND xã Thanh Thủy, tỉnh Hà Giang thông báo."], TERMS)
    text, violations = out[0]
    assert text == "People's Committee xã Thanh Thủy, province Hà Giang announces."
    assert violations == []
    protected, slots = glossary.protect("Ubnd hà giang", TERMS)
    assert protected == "⟦1⟧ ⟦0⟧" and slots == ["hà giang", "People's Committee"]  # kept as written
    assert glossary.hits("Giang sơn", TERMS) == []  # whole words only
    # Engines may space a placeholder out or invent one: spaced ones are restored, invented ones dropped.
    assert glossary.restore("⟦ 1 ⟧ of ⟦0⟧ ⟦7⟧ met.", slots) == "People's Committee of hà giang met."


def test_glossary_violations_are_reported_when_the_model_drops_terms(models):
    """The random-weight model garbles placeholders: each lost term is a violation of its segment."""
    engine = ArgosEngine(models)
    out = glossary.translate_protected(lambda t: engine.translate(t, "vi", "en"),
                                       ["UBND tỉnh Hà Giang họp.", "Trời mưa."], TERMS)
    assert {v["term"] for v in out[0][1]} <= {"UBND", "Hà Giang"} and out[0][1]
    assert out[1][1] == []
    assert glossary.violations("Tại Hà Giang", "In Ha Giang", TERMS) == [{"term": "Hà Giang", "expected": "Hà Giang"}]


def test_libretranslate_asks_for_languages_on_first_use_right_after_boot(monkeypatch):
    """time.monotonic() starts near zero when a machine boots; the first use must still ask the server."""
    from media_pipeline.translate import libretranslate
    engine = libretranslate.LibreTranslateEngine(url="http://127.0.0.1:9", languages_ttl=300)
    asked = []
    monkeypatch.setattr(engine, "_call", lambda method, path, *a, **k: asked.append(path) or
                        [{"code": "vi", "targets": ["en"]}])
    monkeypatch.setattr(libretranslate.time, "monotonic", lambda: 12.0)  # 12 s after boot
    assert engine.pairs() == {("vi", "en")}
    assert asked == ["/languages"]
    assert engine.pairs() == {("vi", "en")} and asked == ["/languages"]  # cached within the TTL
