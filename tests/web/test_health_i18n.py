"""/healthz and the Vietnamese-first interface."""
from __future__ import annotations

from storage.objectstore import ObjectStore


def test_healthz_ok(app):
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["database"], body["storage"], body["queue"], body["status"]) == ("ok", "ok", "ok", "ok")


def test_healthz_names_what_is_down(app):
    app.extensions["objectstore"] = ObjectStore("127.0.0.1:9", "a", "b", "bucket", timeout=1)
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["database"] == "ok" and body["queue"] == "ok" and body["storage"].startswith("down")


def test_vietnamese_by_default_english_on_request(web, users):
    page = web.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in page and 'lang="vi"' in page
    en = web.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Log in" in en and 'lang="en"' in en
    web.get("/lang/en")
    assert "Log in" in web.get("/login").get_data(as_text=True)
    web.get("/lang/vi")
    assert "Đăng nhập" in web.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_catalogue_is_complete_and_compiled():
    """Every message in the Vietnamese catalogue is translated, and the .mo matches the .po."""
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po
    base = Path(__file__).resolve().parents[2] / "studio" / "translations" / "vi" / "LC_MESSAGES"
    with open(base / "messages.po", "rb") as f:
        po = read_po(f)
    with open(base / "messages.mo", "rb") as f:
        mo = read_mo(f)
    missing = [m.id for m in po if m.id and not m.string]
    assert not missing, f"untranslated: {missing[:5]}"
    assert {m.id for m in po if m.id} == {m.id for m in mo if m.id}


def test_security_headers(app):
    resp = app.test_client().get("/login")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
