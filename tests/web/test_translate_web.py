"""Translation pages through the web client: start, edit and approve segments, approve a translation,
languages and glossaries, TMX import/export, with the errors people see (Vietnamese UI)."""
from __future__ import annotations

import io

from media_pipeline.translate import argos
from tests.helpers import new_work

JSON = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
BODY = "Xã tổ chức tiêm chủng. Người dân mang theo sổ tiêm chủng."


def _login(make_web, name):
    w = make_web()
    assert w.login(name).status_code == 302
    return w


def test_translator_starts_edits_and_approver_approves(make_web, users):
    editor, translator, approver = (_login(make_web, n) for n in ("editor", "translator", "approver"))
    wid = new_work(editor, body=BODY)
    page = translator.get(f"/works/{wid}/translations").get_data(as_text=True)
    assert "Bắt đầu dịch" in page and "Tiếng Tày (tyz) — dịch thủ công" in page
    resp = translator.post(f"/works/{wid}/translations", {"language": "tyz"})
    assert resp.headers["Location"].endswith(f"/works/{wid}/translations/tyz")
    editor_page = translator.get(f"/works/{wid}/translations/tyz").get_data(as_text=True)
    assert "Xã tổ chức tiêm chủng." in editor_page and "Đã duyệt 0/3 đoạn" in editor_page
    assert "không có (dịch thủ công với bộ nhớ dịch)" in editor_page
    # The editor's script saves through JSON and gets the progress back.
    r = translator.post(f"/works/{wid}/translations/tyz/segments/1", {"target": "Thông báo", "approve": "1"},
                        headers=JSON)
    assert r.status_code == 200 and r.json["segment"]["status"] == "approved"
    assert r.json["progress"]["approved"] == 1 and r.json["state"] == "draft"
    bad = translator.post(f"/works/{wid}/translations/tyz/segments/9", {"target": "x"}, headers=JSON)
    assert bad.status_code == 400 and bad.json["error"]["message"] == "Không có đoạn 9."
    empty = translator.post(f"/works/{wid}/translations/tyz/segments/2", {"target": "", "approve": "1"})
    assert empty.status_code == 302
    assert "Không thể duyệt đoạn trống" in translator.get(empty.headers["Location"]).get_data(as_text=True)
    # Approvers read but do not write segments; translators do not approve translations.
    assert approver.post(f"/works/{wid}/translations/tyz/segments/2", {"target": "x"}, headers=JSON).status_code == 403
    early = approver.post(f"/works/{wid}/translations/tyz/approve")
    assert "Còn 2 đoạn chưa được duyệt (đầu tiên: đoạn 2)" in approver.get(early.headers["Location"]).get_data(as_text=True)
    for n, t in ((2, "Xã tổ chức tiêm chủng (Tày)."), (3, "Pỉ noọng au sổ tiêm chủng.")):
        translator.post(f"/works/{wid}/translations/tyz/segments/{n}", {"target": t, "approve": "1"}, headers=JSON)
    assert translator.post(f"/works/{wid}/translations/tyz/approve").status_code == 302
    done = approver.post(f"/works/{wid}/translations/tyz/approve")
    assert "Đã duyệt bản dịch" in approver.get(done.headers["Location"]).get_data(as_text=True)
    listing = editor.get(f"/works/{wid}/translations").get_data(as_text=True)
    assert 'data-language="tyz"' in listing and "Đã duyệt 3/3 đoạn" in listing
    sugg = translator.get(f"/works/{wid}/translations/tyz/segments/2/suggestions").json
    assert sugg["memory"][0]["target"] == "Xã tổ chức tiêm chủng (Tày)." and sugg["memory"][0]["score"] == 1.0


def test_machine_translation_from_the_page(app, make_web, users, argos_packages):
    argos.install(argos_packages, app.config["TRANSLATION_MODELS"])
    editor, translator = _login(make_web, "editor"), _login(make_web, "translator")
    wid = new_work(editor, body=BODY)
    assert "Tiếng Anh (en) — dịch máy" in translator.get(f"/works/{wid}/translations").get_data(as_text=True)
    translator.post(f"/works/{wid}/translations", {"language": "zh"})
    page = translator.get(f"/works/{wid}/translations/zh").get_data(as_text=True)
    assert page.count("argos vi→en, argos en→zh") == 3  # each segment machine-translated through English
    assert "Dịch máy: vi (argos via en)" in page
    translator.post(f"/works/{wid}/translations", {"language": "hmn"})
    r = translator.post(f"/works/{wid}/translations/hmn/machine")
    msg = translator.get(r.headers["Location"]).get_data(as_text=True)
    assert "Không có dịch máy cho cặp ngôn ngữ này" in msg and "studio models install" in msg


def test_languages_page_and_admin_adds_one(make_web, users):
    admin, editor = _login(make_web, "admin"), _login(make_web, "editor")
    page = editor.get("/languages").get_data(as_text=True)
    assert 'data-code="tyz"' in page and "add-language" not in page
    assert 'Tiếng H&#39;Mông / <span lang="en">Hmong</span>' in page
    assert editor.post("/languages", {"code": "pcc", "name_vi": "Tiếng Giáy", "name_en": "Bouyei"}).status_code == 403
    bad = admin.post("/languages", {"code": "Giáy", "name_vi": "Tiếng Giáy", "name_en": "Bouyei"})
    assert bad.status_code == 400 and "Mã ngôn ngữ là mã ISO 639" in bad.get_data(as_text=True)
    assert 'value="Tiếng Giáy"' in bad.get_data(as_text=True)  # what was typed is kept
    ok = admin.post("/languages", {"code": "pcc", "name_vi": "Tiếng Giáy", "name_en": "Bouyei", "script": "Latn"})
    assert ok.status_code == 302 and 'data-code="pcc"' in admin.get("/languages").get_data(as_text=True)


def test_glossary_and_memory_pages(make_web, users):
    translator, approver = _login(make_web, "translator"), _login(make_web, "approver")
    r = translator.post("/glossary", {"source": "vi", "target": "en", "term": "Hà Giang", "translation": ""})
    assert r.status_code == 302
    translator.post("/glossary", {"source": "vi", "target": "en", "term": "UBND", "translation": "People's Committee"})
    dup = translator.post("/glossary", {"source": "vi", "target": "en", "term": "ubnd"})
    assert dup.status_code == 409 and "ubnd đã có trong bảng thuật ngữ này." in dup.get_data(as_text=True)
    page = translator.get("/glossary?source=vi&target=en").get_data(as_text=True)
    assert "Hà Giang</td><td>giữ nguyên" in page and "People&#39;s Committee" in page
    assert approver.post("/glossary", {"source": "vi", "target": "en", "term": "X"}).status_code == 403
    assert translator.get("/glossary?source=vi&target=xx").status_code == 404
    tmx = ('<?xml version="1.0"?><tmx version="1.4"><header srclang="vi"/><body><tu>'
           '<tuv xml:lang="vi"><seg>Xin chào.</seg></tuv><tuv xml:lang="en"><seg>Hello.</seg></tuv></tu></body></tmx>')
    r = translator.post("/memory/import", {"source": "vi", "target": "en", "file": (io.BytesIO(tmx.encode()), "m.tmx")},
                        content_type="multipart/form-data")
    assert "Đã thêm 1 cặp câu vào bộ nhớ dịch." in translator.get(r.headers["Location"]).get_data(as_text=True)
    broken = translator.post("/memory/import", {"source": "vi", "target": "en",
                                                "file": (io.BytesIO(b"<tmx>\n<body>\n<tu>"), "b.tmx")},
                             content_type="multipart/form-data")
    assert "dòng 3" in translator.get(broken.headers["Location"]).get_data(as_text=True)
    out = translator.get("/memory/export?source=vi&target=en")
    assert out.headers["Content-Disposition"] == 'attachment; filename="memory-vi-en.tmx"' and b"Hello." in out.data
