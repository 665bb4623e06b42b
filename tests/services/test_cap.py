"""CAP 1.2 in and out (issue #25), with real components: the API over the test client, the jobs run inline with
real espeak-ng and ffmpeg, the embedded SeaweedFS, the live server (uvicorn) for fetching what a device
fetches, the OASIS schema (loaded by the test from the shipped file) and feedparser for the Atom feed."""
from __future__ import annotations

import hashlib
import http.server
import threading

import feedparser
import numpy as np
import pytest
import requests
from lxml import etree
from sqlalchemy import select

from storage.models import AuditEvent, CapAlert, CapSource, Language, Package, Translation, Work
from tests.services.cap_cases import (EN_DESC, EN_INSTR, OASIS, SENDER, VI_INSTR, Signer, flood_alert, oasis,
                                      reference_to, schema)
from tests.web.test_api import auth, token_for

NS = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
XML = {"Content-Type": "application/cap+xml"}


@pytest.fixture
def province(app, db_session):
    from tests.services.programme_cases import make_province
    app.config["CAP_CHANNELS"] = "loudspeaker"  # the e-board test asks for boards itself
    return make_province(db_session)


def post(web, token, doc: bytes, **headers):
    return web.client.post("/api/v1/cap", data=doc, headers={**auth(token), **XML, **headers})


def trust(db_session, signer: Signer | None, policy="publish", require=False, sender=SENDER):
    from studio.services import Caller, cap_senders
    from storage.models import User
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    cap_senders.save(db_session, Caller(admin), {"sender": sender, "name": "Đài KTTV Hà Giang", "policy": policy,
                                                 "certificate": signer.pem if signer else "",
                                                 "require_signature": "1" if require else ""})
    db_session.commit()


def test_the_specifications_examples_are_read_and_refused_only_for_what_they_are(web, users, province,
                                                                                   db_session):
    token = token_for(web, "editor")
    got = {name: post(web, token, oasis(name)) for name in OASIS}
    # A.1: no language (en-US by the standard), no area of ours: a draft for an approver, everywhere unmatched.
    home = got["oasis_homeland_security.xml"]
    assert home.status_code == 201, home.json
    work = db_session.get(Work, home.json["work_id"])
    assert (work.title, work.source_language, work.priority, work.state) == (
        "Homeland Security Sets Code ORANGE", "en", "emergency", "submitted")
    assert "threat level to ORANGE" in work.body and work.body.endswith("existing plans.")
    assert home.json["unmatched_areas"] == ["U.S. nationwide and interests worldwide"] and not work.areas
    # A.2 expired in 2003: refused, saying so.
    storm = got["oasis_thunderstorm.xml"]
    assert storm.status_code == 400 and storm.json["error"]["field"] == "expires"
    assert "2003-06-17T16:00:00-07:00" in storm.json["error"]["message"]
    # A.3 updates an alert never received here: taken as a new one.
    quake = got["oasis_earthquake_update.xml"]
    assert quake.status_code == 201 and quake.json["msg_type"] == "Update"
    assert db_session.get(Work, quake.json["work_id"]).title == "EQ 3.4 Imperial County CA"
    # A.4: en-US first; es-US is not in the registry, so it is skipped and said to be.
    amber = got["oasis_amber_multilingual.xml"]
    assert amber.status_code == 201 and amber.json["translations"] == [] and amber.json["skipped_languages"] == [
        "es-US"]
    # With Spanish registered, the same alert from another identifier brings its translation.
    db_session.add(Language(code="es", name_vi="Tiếng Tây Ban Nha", name_en="Spanish", script="Latn", note=""))
    db_session.commit()
    again = post(web, token, oasis("oasis_amber_multilingual.xml").replace(b"KAR0-0306112239-SW", b"KAR0-2"))
    assert again.status_code == 201 and again.json["translations"] == ["es"]
    tr = db_session.scalar(select(Translation).where(Translation.work_id == again.json["work_id"]))
    assert tr.title == "Alerta Amber en el condado de Los Ángeles" and tr.state == "draft"
    assert {s["status"] for s in tr.segments} == {"approved"} and {s["origin"] for s in tr.segments} == {"sender"}
    assert any("VÍCTIMAS" in s["target"] for s in tr.segments)


def test_a_two_language_alert_becomes_an_emergency_with_its_translation_ready(web, users, province, db_session):
    token = token_for(web, "editor")
    doc = flood_alert(geocode="00961")
    resp = post(web, token, doc)
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["translations"] == ["en"] and body["areas"] == ["00961"] and body["published"] is False
    work = db_session.get(Work, body["work_id"])
    assert (work.title, work.source_language, work.state) == ("Cảnh báo lũ quét khẩn cấp", "vi", "submitted")
    assert work.body.endswith(VI_INSTR) and work.valid_until is not None
    assert work.topics == ["Khí tượng thủy văn"]  # CAP's category Met, in the readers' words
    assert work.author.username == "cap"  # the gateway wrote it: any approver may approve it
    tr = db_session.scalar(select(Translation).where(Translation.work_id == work.id))
    assert tr.title == "Flash flood emergency warning"
    # Sentence by sentence: both texts have as many sentences in each field.
    pairs = [(s["source"], s["target"]) for s in tr.segments]
    assert ("Không qua ngầm tràn.", "Do not cross flooded fords.") in pairs
    # The area by its name when no VN-ADMIN geocode is given.
    by_name = post(web, token, flood_alert(geocode="", area_desc="XÃ LŨNG CÚ"))  # case, prefix, diacritics aside
    assert by_name.json["areas"] == ["00970"]
    # Multipart works too.
    multi = web.client.post("/api/v1/cap", headers=auth(token),
                            data={"file": (__import__("io").BytesIO(flood_alert()), "alert.xml")})
    assert multi.status_code == 201
    events = [e.action for e in db_session.scalars(select(AuditEvent).where(AuditEvent.action.like("cap.%")))]
    assert events.count("cap.receive") == 3


def test_invalid_duplicate_and_unsigned_alerts_are_refused_clearly(web, users, province, db_session):
    token = token_for(web, "editor")
    doc = flood_alert()
    assert post(web, token, doc).status_code == 201
    dup = post(web, token, doc)
    assert dup.status_code == 409 and dup.json["error"]["code"] == "conflict"
    broken = post(web, token, b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>")
    assert broken.status_code == 400 and "XML" in broken.json["error"]["message"]
    no_sender = post(web, token, flood_alert().replace(f"<sender>{SENDER}</sender>".encode(), b""))
    assert no_sender.status_code == 400 and "phần tử sent" in no_sender.json["error"]["message"]
    assert "cần: sender" in no_sender.json["error"]["message"]  # Vietnamese first, saying where and what
    dtd = post(web, token, b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                           b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>&x;</alert>")
    assert dtd.status_code == 400 and "passwd" not in dtd.get_data(as_text=True)
    test_status = post(web, token, flood_alert().replace(b"<status>Actual</status>", b"<status>Test</status>"))
    assert test_status.status_code == 400 and test_status.json["error"]["field"] == "status"
    assert "đã được nhận" in dup.json["error"]["message"]
    en = post(web, token, flood_alert().replace(f"<sender>{SENDER}</sender>".encode(), b""),
              **{"Accept-Language": "en"})
    assert "element sent is not allowed there (expected: sender)" in en.json["error"]["message"]
    # A sender that must sign: an unsigned alert is refused; a tampered signed one too.
    signer = Signer()
    trust(db_session, signer, policy="draft", require=True)
    assert post(web, token, flood_alert()).status_code == 403
    tampered = signer.sign(flood_alert()).replace("ngầm tràn".encode(), "cầu treo".encode())
    bad = post(web, token, tampered)
    assert bad.status_code == 400 and bad.json["error"]["field"] == "Signature"
    assert web.client.post("/api/v1/cap", data=doc, headers=XML).status_code == 401


def _feed_item(live_server, token, work_id):
    feed = requests.get(f"{live_server}/api/v1/feed", headers=auth(token), timeout=30).json()
    return next(i for i in feed["items"] if i["work_id"] == work_id)


def test_a_signed_alert_from_a_trusted_sender_is_published_without_a_person_and_sent_out_as_cap(
        app, web, users, province, db_session, live_server):
    signer = Signer()
    trust(db_session, signer)
    app.config["PUBLIC_URL"] = live_server  # where devices fetch the audio the CAP names
    app.extensions.get("job_resources", {}).pop("cap", None)
    token = token_for(web, "editor")
    # Unsigned from the same sender: a draft for approval.
    unsigned = post(web, token, flood_alert())
    assert unsigned.status_code == 201 and unsigned.json["state"] == "submitted" and not unsigned.json["published"]
    # Signed, but naming no area of ours: it would go everywhere, so a person decides.
    nowhere = post(web, token, signer.sign(flood_alert(geocode="", area_desc="Huyện Không Có")))
    assert nowhere.status_code == 201 and nowhere.json["signed"] and not nowhere.json["published"]
    assert nowhere.json["unmatched_areas"] == ["Huyện Không Có"]
    signed_doc = signer.sign(flood_alert(geocode="00961"))
    resp = post(web, token, signed_doc)
    assert resp.status_code == 201, resp.json
    assert resp.json["signed"] is True and resp.json["published"] is True and resp.json["state"] == "published"
    wid = resp.json["work_id"]
    package = db_session.scalar(select(Package).where(Package.work_id == wid, Package.state == "published"))
    assert package is not None and package.priority == "emergency"
    actions = [e.action for e in db_session.scalars(select(AuditEvent).where(
        AuditEvent.target_id == str(wid)).order_by(AuditEvent.id))]
    assert "cap.auto_approve" in actions and "work.publish" in actions
    assert db_session.scalar(select(Translation).where(Translation.work_id == wid)).state == "approved"

    # In the loudspeaker's feed: the MP3 and the CAP document.
    from tests.services.test_emergency import loudspeaker_token
    item = _feed_item(live_server, loudspeaker_token(app), wid)
    by_mime = {f["mime"]: f for f in item["files"]}
    assert set(by_mime) == {"audio/mpeg", "application/cap+xml"}
    doc = requests.get(by_mime["application/cap+xml"]["url"], timeout=30).content
    assert doc == requests.get(f"{live_server}/p/{wid}/cap.xml", timeout=30).content
    # The package's manifest, as stored, lists the same document and names it.
    import json
    manifest = json.loads(app.extensions["objectstore"].get_bytes(package.manifest_key))
    listed = [f for f in manifest["files"] if f["mime"] == "application/cap+xml"]
    assert len(listed) == 1 and listed[0]["sha256"] == hashlib.sha256(doc).hexdigest()
    assert listed[0]["size"] == len(doc) and listed[0]["role"] == "cap"
    assert manifest["cap"]["identifier"] == f"studio-work-{wid}-v1" and manifest["cap"]["msg_type"] == "Alert"
    root = etree.fromstring(doc)
    assert schema().validate(root), schema().error_log
    f = lambda el, name: el.findtext(f"c:{name}", namespaces=NS)  # noqa: E731
    assert f(root, "identifier") == f"studio-work-{wid}-v1" and f(root, "status") == "Actual"
    assert f(root, "msgType") == "Alert" and f(root, "scope") == "Public"
    assert f(root, "sender").startswith("studio@") and f(root, "sent")[-6:] == "+07:00"
    infos = root.findall("c:info", NS)
    assert [f(i, "language") for i in infos] == ["vi-VN", "en-US"]
    vi, en = infos
    assert f(en, "headline") == "Flash flood emergency warning" and f(en, "instruction") == EN_INSTR
    assert f(vi, "instruction") == VI_INSTR and f(vi, "category") == "Met"
    assert (f(vi, "urgency"), f(vi, "severity"), f(vi, "certainty")) == ("Immediate", "Extreme", "Likely")
    for info in infos:
        res = info.find("c:resource", NS)
        assert f(res, "mimeType") == "audio/mpeg"
        audio = requests.get(f(res, "uri"), timeout=30)
        assert audio.status_code == 200 and len(audio.content) == int(f(res, "size"))
        assert hashlib.sha1(audio.content).hexdigest() == f(res, "digest")
        area = info.find("c:area", NS)
        assert f(area, "areaDesc") == "Thanh Thủy"
        assert [(f(g, "valueName"), f(g, "value")) for g in area.findall("c:geocode", NS)] == [("VN-ADMIN", "00961")]
    assert f(vi, "resource/c:uri") != f(en, "resource/c:uri")  # each language its own audio

    # The readers' page shows the headline and instruction in the chosen language.
    page = web.get(f"/p/{wid}?lang=en").get_data(as_text=True)
    assert 'role="alert"' in page and EN_INSTR in page and "Flash flood emergency warning" in page
    assert VI_INSTR in web.get(f"/p/{wid}").get_data(as_text=True)
    # So does the commune's site: its home's banner and the item's page, in the site's language.
    for home, lang, said in (("/x/00961/", "vi", VI_INSTR), ("/x/00961/en/", "en", EN_INSTR)):
        page = web.get(home).get_data(as_text=True)
        start = page.index('role="alert"')
        assert f'<span lang="{lang}">{said}</span>' in page[start:page.index("</section>", start)], home
    page = web.get(f"/x/00961/items/{wid}/en/").get_data(as_text=True)
    assert 'role="alert"' in page and f'<span lang="en">{EN_INSTR}</span>' in page
    for page in (page, web.get(f"/p/{wid}?lang=en").get_data(as_text=True)):  # the headline once, as the heading
        assert "<h1>Flash flood emergency warning</h1>" in page and "<h2>Flash flood emergency warning" not in page

    # An update from the sender: the work changes and goes out again as an Update referring to the first.
    update = signer.sign(flood_alert(msg_type="Update", references=reference_to(signed_doc), geocode="00961",
                                     headline_vi="Cảnh báo lũ quét: nước đang lên"))
    up = post(web, token, update)
    assert up.status_code == 200 and up.json["work_id"] == wid and up.json["published"] is True
    assert db_session.get(Work, wid).title == "Cảnh báo lũ quét: nước đang lên"
    second = etree.fromstring(requests.get(f"{live_server}/p/{wid}/cap.xml", timeout=30).content)
    assert schema().validate(second)
    assert f(second, "msgType") == "Update" and f(second, "identifier") == f"studio-work-{wid}-v2"
    assert f(second, "references") == f"{f(root, 'sender')},{f(root, 'identifier')},{f(root, 'sent')}"

    # The Atom feed of live alerts, read by feedparser.
    atom = feedparser.parse(requests.get(f"{live_server}/cap/alerts.atom", timeout=30).content)
    assert not atom.bozo and atom.feed.title
    entry = next(e for e in atom.entries if e.id == f"urn:studio:cap:studio-work-{wid}-v2")
    cap_link = next(ln for ln in entry.links if ln.type == "application/cap+xml")
    assert cap_link.href == f"{live_server}/p/{wid}/cap.xml"

    # Cancel: withdrawn at once; the document is gone and the feed lists the Cancel.
    cancel = signer.sign(flood_alert(msg_type="Cancel", references=reference_to(update), geocode="00961"))
    assert post(web, token, cancel).status_code == 200
    assert db_session.get(Work, wid).state == "retracted"
    assert requests.get(f"{live_server}/p/{wid}/cap.xml", timeout=30).status_code == 404
    atom = feedparser.parse(requests.get(f"{live_server}/cap/alerts.atom", timeout=30).content)
    gone = next(e for e in atom.entries if e.id.endswith(f"studio-work-{wid}-v2-cancel"))
    href = next(ln.href for ln in gone.links if ln.type == "application/cap+xml")
    cancel_doc = etree.fromstring(requests.get(href, timeout=30).content)
    assert schema().validate(cancel_doc) and f(cancel_doc, "msgType") == "Cancel"
    assert f(cancel_doc, "references") == f"{f(second, 'sender')},{f(second, 'identifier')},{f(second, 'sent')}"


def test_the_emergency_screen_approves_every_translation_and_publishes_in_one_step(
        web, make_web, users, province, db_session):
    token = token_for(web, "editor")
    wid = post(web, token, flood_alert(geocode="00961")).json["work_id"]
    ap = make_web()
    ap.login("approver")
    page = ap.get(f"/works/{wid}/emergency").get_data(as_text=True)
    assert EN_INSTR in page and VI_INSTR in page and 'lang="en"' in page
    # The English card as the CAP document will carry it: the headline once, then what happens, then what to do.
    card = page[page.index('<section class="card" lang="en">'):]
    card = card[:card.index("</section>")]
    assert card.count("Flash flood emergency warning") == 1
    assert f"<p>{EN_DESC}</p>" in card and f"<p>{EN_INSTR}</p>" in card
    assert ap.post(f"/works/{wid}/emergency").status_code == 302
    db_session.expire_all()
    work = db_session.get(Work, wid)
    assert work.state == "published"
    assert db_session.scalar(select(Translation).where(Translation.work_id == wid)).state == "approved"
    assert db_session.scalar(select(CapAlert).where(CapAlert.work_id == wid)).outcome == "published"
    ed = make_web()
    ed.login("editor")
    assert ed.post(f"/works/{wid}/emergency").status_code == 403  # editors do not approve


class _Source(http.server.BaseHTTPRequestHandler):
    """A loopback CAP-in-Atom source with an ETag; `fail` makes it answer 503."""

    feed, alert, fail, conditional = b"", b"", False, 0

    def do_GET(self):  # noqa: N802
        cls = type(self)
        if cls.fail:
            self.send_response(503)
            self.end_headers()
            return
        if self.path == "/alert.xml":
            body, ctype = cls.alert, "application/cap+xml"
        else:
            if self.headers.get("If-None-Match") == '"v1"':
                cls.conditional += 1
                self.send_response(304)
                self.end_headers()
                return
            body, ctype = cls.feed, "application/atom+xml"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("ETag", '"v1"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_polled_source_on_loopback_brings_its_alerts_once_and_a_failing_one_backs_off(app, web, users, province,
                                                                                        db_session):
    from studio.jobs.worker import cap_poll_settings
    from studio.services import cap_sources
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _Source.alert = flood_alert(geocode="00962")
        _Source.feed = (f'<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:kttv</id><title>KTTV</title>'
                        f"<updated>2026-12-04T05:00:00+07:00</updated><entry><id>urn:kttv:1</id><title>Lũ quét</title>"
                        f'<updated>2026-12-04T05:00:00+07:00</updated><link rel="alternate" type="application/cap+xml" '
                        f'href="{base}/alert.xml"/></entry></feed>').encode()
        app.config.update(CAP_SOURCES=[f"{base}/feed.atom"], CAP_POLL_SECONDS=60)
        settings = cap_poll_settings(app)
        job = cap_sources.ensure_polling(db_session, settings)
        db_session.commit()
        assert job.kind == "cap_poll"
        assert cap_sources.poll_due(db_session, settings) == 1
        row = db_session.scalar(select(CapSource))
        assert (row.alerts, row.failures, row.etag) == (1, 0, '"v1"')
        alert = db_session.scalar(select(CapAlert).where(CapAlert.origin == f"{base}/feed.atom"))
        assert db_session.get(Work, alert.work_id).areas[0].code == "00962"
        row.next_poll_at = None  # due again: the source answers 304 to its validator, nothing new comes in
        cap_sources.poll_due(db_session, settings)
        assert _Source.conditional == 1 and db_session.scalar(select(CapSource)).alerts == 1
        _Source.fail = True
        row.next_poll_at = None
        cap_sources.poll_due(db_session, settings)
        row = db_session.scalar(select(CapSource))
        assert (row.failures, row.error_code) == (1, "http_503")
        first_wait = (row.next_poll_at - row.last_poll_at).total_seconds()
        row.next_poll_at = None
        cap_sources.poll_due(db_session, settings)
        second_wait = (row.next_poll_at - row.last_poll_at).total_seconds()
        assert 110 <= first_wait <= 130 and 230 <= second_wait <= 250  # doubled
        admin = web
        admin.login("admin")
        page = admin.get("/admin/endpoints/network").get_data(as_text=True)
        assert f"{base}/feed.atom" in page and 'class="failing"' in page and "HTTP 503" in page
        _Source.fail = False
        row.next_poll_at = None
        cap_sources.poll_due(db_session, settings)
        assert db_session.scalar(select(CapSource)).failures == 0
    finally:
        server.shutdown()
        _Source.fail, _Source.conditional = False, 0


def test_an_eboard_shows_the_alerts_headline_and_instruction_in_its_language(app, web, users, province, db_session,
                                                                              store, tmp_path):
    """The title card of the board's video (its still, as the package lists it): the instruction is drawn under
    the headline in the board's language (the second line's yellow), measured in the PNG's pixels."""
    from PIL import Image
    from studio.services import endpoints
    app.config["CAP_CHANNELS"] = "loudspeaker,eboard"
    admin = province["admin"]
    endpoints.create(db_session, admin, {"name": "Bảng cửa khẩu", "kind": "eboard", "area_id":
                                         province["areas"]["c1"].id, "languages": ["en"]})
    db_session.commit()
    signer = Signer()
    trust(db_session, signer)
    token = token_for(web, "editor")
    resp = post(web, token, signer.sign(flood_alert(geocode="00961")))
    assert resp.status_code == 201 and resp.json["published"], resp.json
    package = db_session.scalar(select(Package).where(Package.work_id == resp.json["work_id"]))
    stills = {f["language"]: f for f in package.manifest["files"] if f["role"] == "still" and f["channel"] == "eboard"}
    assert set(stills) == {"vi", "en"}
    yellow = {}
    for lang, f in stills.items():
        path = tmp_path / f"{lang}.png"
        path.write_bytes(store.get_bytes(f["key"]))
        img = Image.open(path).convert("RGB")
        assert img.size == (1920, 1080)
        r, g, b = np.asarray(img).astype(int).transpose(2, 0, 1)
        yellow[lang] = int(((r > 200) & (g > 170) & (g < 240) & (b < 150)).sum())
    assert yellow["vi"] > 2000 and yellow["en"] > 2000  # both carry the instruction line
    assert Image.open(tmp_path / "vi.png").tobytes() != Image.open(tmp_path / "en.png").tobytes()


def test_the_poll_job_runs_from_the_queue_and_queues_the_next_poll(app, users, province, db_session):
    """Through the job queue (run inline here): the job polls the due source, then queues itself for the next."""
    from storage.models import Job
    from studio.jobs.worker import cap_poll_settings
    from studio.services import cap_sources
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Source.alert = flood_alert(geocode="00970")
        app.config.update(CAP_SOURCES=[f"http://127.0.0.1:{server.server_address[1]}/alert.xml"],
                          CAP_POLL_SECONDS=90)
        cap_sources.ensure_polling(db_session, cap_poll_settings(app))
        db_session.commit()
        with app.app_context():
            app.extensions["jobs"].drain()  # the worker's loop, in this thread
        db_session.expire_all()
        done, nxt = db_session.scalars(select(Job).where(Job.kind == "cap_poll").order_by(Job.id)).all()
        assert done.state == "succeeded" and nxt.state == "queued"
        assert 80 <= (nxt.run_after - done.finished_at).total_seconds() <= 100
        alert = db_session.scalar(select(CapAlert))
        assert alert.origin.endswith("/alert.xml") and db_session.get(Work, alert.work_id).areas[0].code == "00970"
        assert cap_sources.ensure_polling(db_session, cap_poll_settings(app)).id == nxt.id  # one at a time
    finally:
        server.shutdown()


def test_admins_keep_the_senders_through_their_page(web, users, db_session):
    from storage.models import CapSender
    web.login("admin")
    bad = web.post("/admin/cap-senders", {"sender": SENDER, "policy": "publish", "certificate": "not a certificate"},
                   follow_redirects=True).get_data(as_text=True)
    assert "PEM" in bad and db_session.scalar(select(CapSender)) is None
    signer = Signer()
    assert web.post("/admin/cap-senders", {"sender": SENDER, "name": "Đài KTTV", "policy": "publish",
                                           "certificate": signer.pem}).status_code == 302
    row = db_session.scalar(select(CapSender))
    assert (row.sender, row.policy, row.certificate.strip()) == (SENDER, "publish", signer.pem.strip())
    assert SENDER in web.get("/admin/cap-senders").get_data(as_text=True)
    ed = web.__class__(web.client.application.test_client())
    ed.login("editor")
    assert ed.post("/admin/cap-senders", {"sender": "x@y", "policy": "draft"}).status_code == 403
    web.post(f"/admin/cap-senders/{row.id}/delete")
    db_session.expire_all()
    assert db_session.scalar(select(CapSender)) is None
    assert [e.action for e in db_session.scalars(select(AuditEvent).where(AuditEvent.action.like("cap.sender%")))] == [
        "cap.sender_save", "cap.sender_delete"]
