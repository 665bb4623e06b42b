"""The JSON API: tokens, works, revisions, transitions, assets, errors, OpenAPI."""
from __future__ import annotations

import re

from storage.models import ApiToken


def token_for(web, username) -> str:
    web.login(username)
    page = web.post("/account/tokens", {"name": "script"}).get_data(as_text=True)
    return re.search(r'id="new-token">([^<]+)<', page).group(1)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_stored_hashed_and_can_be_revoked(web, users, db_session):
    tok = token_for(web, "editor")
    row = db_session.query(ApiToken).one()
    assert tok.startswith("st_") and row.token_hash != tok and tok not in row.token_hash
    assert web.get("/api/v1/works", headers=auth(tok)).status_code == 200
    web.post("/account/tokens", {"revoke": str(row.id)})
    resp = web.get("/api/v1/works", headers=auth(tok))
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"


def test_no_token_and_session_cookie_are_not_enough(web, users, app):
    web.login("editor")  # a logged-in browser session does not authenticate the API (no CSRF exposure)
    assert web.get("/api/v1/works").status_code == 401
    assert app.test_client().get("/api/v1/works", headers=auth("st_forged")).status_code == 401


def test_work_lifecycle_over_the_api(web, make_web, users):
    c = web.client
    ed = token_for(web, "editor")
    resp = c.post("/api/v1/works", json={"title": "Bản tin API", "kind": "radio_bulletin", "body": "Nội dung",
                                         "channels": ["loudspeaker"], "priority": "priority"}, headers=auth(ed))
    assert resp.status_code == 201, resp.get_json()
    work = resp.get_json()
    assert work["state"] == "draft" and work["version"] == 1 and work["channels"] == ["loudspeaker"]
    wid = work["id"]
    resp = c.put(f"/api/v1/works/{wid}", json={"version": 1, "body": "Nội dung mới"}, headers=auth(ed))
    assert resp.status_code == 200 and resp.get_json()["current_revision"] == 2
    assert resp.get_json()["title"] == "Bản tin API"  # fields not sent are kept
    stale = c.put(f"/api/v1/works/{wid}", json={"version": 1, "body": "cũ"}, headers=auth(ed))
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "conflict"
    revs = c.get(f"/api/v1/works/{wid}/revisions", headers=auth(ed)).get_json()["items"]
    assert [r["number"] for r in revs] == [1, 2]
    diff = c.get(f"/api/v1/works/{wid}/diff?a=1&b=2", headers=auth(ed)).get_json()
    assert diff["changes"][0]["field"] == "body" and "+Nội dung mới" in diff["changes"][0]["lines"]
    assert c.post(f"/api/v1/works/{wid}/transitions", json={"action": "submit"}, headers=auth(ed)).status_code == 200
    own = c.post(f"/api/v1/works/{wid}/transitions", json={"action": "approve"}, headers=auth(ed))
    assert own.status_code == 403
    ap = token_for(make_web(), "approver")
    resp = c.post(f"/api/v1/works/{wid}/transitions", json={"action": "approve"}, headers=auth(ap))
    assert resp.status_code == 200 and resp.get_json()["state"] == "approved"
    listing = c.get("/api/v1/works?state=approved", headers=auth(ap)).get_json()
    assert listing["total"] == 1 and "body" not in listing["items"][0]
    restored = c.post(f"/api/v1/works/{wid}/revisions/1/restore", json={"version": resp.get_json()["version"]},
                      headers=auth(ed))
    assert restored.status_code == 200 and restored.get_json()["body"] == "Nội dung"
    assert restored.get_json()["state"] == "draft"


def test_bad_input_gets_json_errors(web, users):
    c = web.client
    tok = token_for(web, "editor")
    resp = c.post("/api/v1/works", data="not json", headers=auth(tok))
    assert resp.status_code == 400 and "JSON" in resp.get_json()["error"]["message"]
    resp = c.post("/api/v1/works", json={"title": "x", "channels": ["radio-free-europe"]}, headers=auth(tok))
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "channels[0]"
    # Every body value is checked against the OpenAPI's schema before a service sees it: the field is named.
    for bad, field in [({"title": 123}, "title"), ({"title": "x", "topics": "a"}, "topics"),
                       ({"title": "x", "area_ids": [2**70]}, "area_ids[0]"), ({"kind": "article"}, "title"),
                       ({"title": "x", "meta": {"isbn": 5}}, "meta.isbn"), ({"title": "  "}, "title")]:
        resp = c.post("/api/v1/works", json=bad, headers=auth(tok))
        err = resp.get_json()["error"]
        assert resp.status_code == 400 and err["field"] == field, (bad, err)
        assert "%(" not in err["message"] and field.split("[")[0] in err["message"], err
    # A mistyped ISBN (wrong check digit) is refused, in the caller's language, naming the field.
    resp = c.post("/api/v1/works", json={"title": "x", "meta": {"isbn": "978-604-0-00000-3"}},
                  headers={**auth(tok), "Accept-Language": "vi"})
    err = resp.get_json()["error"]
    assert resp.status_code == 400 and err["field"] == "meta.isbn" and "không hợp lệ" in err["message"], err
    resp = c.post("/api/v1/works", json={"title": "x"}, headers=auth(tok))
    wid = resp.get_json()["id"]
    resp = c.post(f"/api/v1/works/{wid}/transitions", json={"action": "submit", "version": {}}, headers=auth(tok))
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "version"
    # Query parameters too: a wrong type or a value out of range is a 400 naming it, never a silent default.
    for query, field in [("per_page=null", "per_page"), ("page=0", "page"), ("state=gone", "state"),
                         ("area=99999999999999999999", "area"), ("per_page=101", "per_page")]:
        resp = c.get(f"/api/v1/works?{query}", headers=auth(tok))
        assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field, query
    # An undeclared method is a 405 that lists the allowed ones.
    resp = c.delete("/api/v1/works", headers=auth(tok))
    assert resp.status_code == 405 and set(resp.headers["Allow"].split(", ")) >= {"GET", "POST"}
    resp = c.post("/api/v1/works", json={"title": "x", "body": "<script>alert(1)</script>ok"}, headers=auth(tok))
    assert resp.status_code == 201  # stored as written; rendering sanitises it
    assert c.get("/api/v1/works/12345", headers=auth(tok)).status_code == 404
    resp = c.post("/api/v1/works/1/transitions", json={"action": "explode"}, headers=auth(tok))
    assert resp.status_code == 400


def test_translator_cannot_write(web, users):
    tok = token_for(web, "translator")
    resp = web.client.post("/api/v1/works", json={"title": "x"}, headers=auth(tok))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"


def test_asset_upload_and_presigned_download(web, users, tmp_path):
    import urllib.request

    from tests.helpers import make_png
    c = web.client
    tok = token_for(web, "editor")
    wid = c.post("/api/v1/works", json={"title": "Ảnh"}, headers=auth(tok)).get_json()["id"]
    png = make_png(tmp_path / "p.png")
    with open(png, "rb") as f:
        resp = c.post(f"/api/v1/works/{wid}/assets", data={"file": (f, "p.png")}, headers=auth(tok),
                      content_type="multipart/form-data")
    assert resp.status_code == 201
    aid = resp.get_json()["id"]
    meta = c.get(f"/api/v1/assets/{aid}", headers=auth(tok)).get_json()
    with urllib.request.urlopen(meta["download_url"]) as r:
        assert r.read() == png.read_bytes()
    with open(tmp_path / "t.txt", "w") as f:
        f.write("hello")
    with open(tmp_path / "t.txt", "rb") as f:
        resp = c.post(f"/api/v1/works/{wid}/assets", data={"file": (f, "t.jpg")}, headers=auth(tok),
                      content_type="multipart/form-data")
    assert resp.status_code == 415 and resp.get_json()["error"]["field"] == "file"


def test_openapi_document_lists_every_api_route(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            for m in rule.methods - {"HEAD", "OPTIONS"}:
                routed.add((path, m.lower()))
    assert routed == documented


def test_translation_over_the_api(web, make_web, users):
    ed, tr_, ap = (token_for(make_web(), n) for n in ("editor", "translator", "approver"))
    r = web.client.post("/api/v1/works", json={"kind": "article", "title": "Thông báo", "body": "Trời mưa."},
                        headers=auth(ed))
    wid = r.json["id"]
    langs = {x["code"]: x for x in web.client.get("/api/v1/languages", headers=auth(tr_)).json["items"]}
    assert langs["tyz"]["name_vi"] == "Tiếng Tày" and langs["tyz"]["machine_translation_from"] == []
    assert langs["vi"]["speech"] == "espeak" and langs["vi"]["speech_recognition"] is True
    r = web.client.post(f"/api/v1/works/{wid}/translations", json={"language": "tyz"}, headers=auth(tr_))
    assert r.status_code == 201 and [s["number"] for s in r.json["segments"]] == [1, 2]
    assert web.client.post(f"/api/v1/works/{wid}/translations", json={"language": "tyz"},
                           headers=auth(tr_)).status_code == 409
    for n, t in ((1, "Thông báo (Tày)"), (2, "Phạ tốc.")):
        r = web.client.put(f"/api/v1/works/{wid}/translations/tyz/segments/{n}", json={"target": t, "approve": True},
                           headers=auth(tr_))
        assert r.status_code == 200 and r.json["status"] == "approved"
    assert web.client.post(f"/api/v1/works/{wid}/translations/tyz/approve", headers=auth(tr_)).status_code == 403
    r = web.client.post(f"/api/v1/works/{wid}/translations/tyz/approve", headers=auth(ap))
    assert r.status_code == 200 and r.json["state"] == "approved" and r.json["progress"]["percent"] == 100
    listed = web.client.get(f"/api/v1/works/{wid}/translations", headers=auth(ed)).json["items"]
    assert [(x["language"], x["state"], x["title"]) for x in listed] == [("tyz", "approved", "Thông báo (Tày)")]
    bad = web.client.put(f"/api/v1/works/{wid}/translations/xx/segments/1", json={"target": "x"}, headers=auth(tr_))
    assert bad.status_code == 404 and "xx" in bad.json["error"]["message"]
