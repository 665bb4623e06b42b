"""Every page, as every role: no English left in the Vietnamese interface, valid HTML5 (the Nu HTML Checker)
and no server error.

The studio is filled as a province would fill it (the demo's bulletin, publication and endpoints, a work
rendered and published through the pages, feedback, a failed job, an area), then each role's client follows
every link it is shown, from its start page, with the Vietnamese interface (the default). Each HTML page's
visible text and the attributes people read (placeholder, title, aria-label, alt, button values) are cut into
words; a word of the interface's English (every word of the catalogue's English messages that its
Vietnamese never uses, and the enum values the code stores) fails the test with the page and the text it sits
in. Content in another language is marked up as such (`lang`), and identifiers people copy (tokens, keys,
file names) sit in `code`/`translate="no"`, so both are passed over, as a screen reader or browser translator
would treat them.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import lxml.html
from babel.messages.pofile import read_po
from sqlalchemy import select

from tests.helpers import PASSWORD, make_png, new_work
from tests.services.test_assets import upload

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "studio" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"

# Values the code stores and a page could print as they are, instead of through the catalogue.
ENUM_WORDS = {
    "editor", "translator", "approver", "admin", "loudspeaker", "eboard", "portal", "kiosk", "border_screen",
    "image", "audio", "video", "played", "chapters", "chapter", "queued", "running", "succeeded", "failed",
    "cancelled", "waiting", "draft", "review", "approved", "published", "archived", "normal", "priority",
    "emergency", "article", "radio_bulletin", "publication", "notice", "document", "narration", "machine",
    "human", "memory", "title", "kind", "summary", "body", "publisher", "edition", "isbn", "authors", "licence",
    "online", "offline", "open", "answered", "closed", "simplified", "characters", "border", "gates",
    "northern", "not", "found", "the", "and", "with", "for", "from", "this", "that", "page", "error",
}
# Words both languages write alike, or names and codes that are not English prose.
SHARED = {
    "epub", "pdf", "isbn", "studio", "email", "e-mail", "token", "api", "url", "json", "csv", "xlsx", "tmx",
    "srt", "vtt", "mp3", "mp4", "png", "jpeg", "jpg", "wav", "ogg", "opus", "lufs", "dbtp", "fps", "gmt",
    "utc", "espeak", "espeak-ng", "piper", "gtts", "whisper", "argos", "libretranslate", "onnx", "ffmpeg",
    "led", "lcd", "ip", "id", "sha256", "zip", "docx", "odt", "html", "http", "https", "ok", "s3", "redis",
    "postgresql", "sqlite", "mqtt", "youtube", "facebook", "zalo", "google", "ctranslate2", "cc", "by",
}


def english_words() -> set[str]:
    with open(PO, "rb") as f:
        catalogue = read_po(f, locale="vi")
    english, vietnamese = set(), set()
    for m in catalogue:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, (tuple, list)) else [m.id]
        strings = m.string if isinstance(m.string, (tuple, list)) else [m.string]
        for s in ids:
            english |= {w.lower() for w in re.findall(r"[A-Za-z]{3,}", re.sub(r"%\(\w+\)s|\{\w+\}", " ", s))}
        for s in strings:
            vietnamese |= {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]*", re.sub(r"%\(\w+\)s", " ", s or ""))}
    return ((english | ENUM_WORDS) - vietnamese - SHARED) | {"the", "and", "not", "found"}


SKIP_TAGS = {"script", "style", "code", "pre", "kbd", "samp", "template", "svg"}
READ_ATTRS = ("placeholder", "title", "aria-label", "alt")


def readable_text(html: str) -> list[str]:
    """The pieces of text a Vietnamese reader of the page reads as interface (see the module's docstring)."""
    root = lxml.html.document_fromstring(html)
    out = []

    def walk(el, skip=False):
        if not isinstance(el.tag, str):
            return
        lang = el.get("lang")
        skip = skip or el.tag in SKIP_TAGS or el.get("translate") == "no" or (
            lang is not None and not lang.startswith("vi") and el.tag != "html")
        if not skip:
            if el.text and el.text.strip():
                out.append(el.text.strip())
            for a in READ_ATTRS:
                if el.get(a):
                    out.append(el.get(a))
            if el.tag == "input" and el.get("type") in ("submit", "button") and el.get("value"):
                out.append(el.get("value"))
        for child in el:
            walk(child, skip)
            if not skip and child.tail and child.tail.strip():
                out.append(child.tail.strip())

    walk(root)
    return out


def english_in(texts: list[str], words: set[str], names: set[str]) -> list[str]:
    """Texts holding a word of `words`; account names (identifiers people type to log in) pass."""
    found = []
    for t in texts:
        hits = [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9_-]*", t) if w not in names
                and any(part.lower() in words for part in re.split(r"[_-]", w))]
        if hits:
            found.append(f"{hits[0]!r} in {t[:90]!r}")
    return found


def links(html: str, base_path: str) -> list[str]:
    root = lxml.html.document_fromstring(html)
    out = []
    for a in root.iter("a"):
        href = a.get("href")
        if not href:
            continue
        href = urldefrag(href)[0]
        u = urlparse(href)
        if u.scheme or u.netloc or not href.startswith("/"):
            continue
        out.append(href)
    return out


def shape(path: str) -> str:
    """Pages of one kind (their ids and query values apart) are visited a few times, not all."""
    return re.sub(r"\d+", "N", path.split("?")[0]) + ("?" + "&".join(sorted(
        p.split("=")[0] for p in path.split("?", 1)[1].split("&"))) if "?" in path else "")


NEVER = ("/logout", "/lang/")


def walk(web, start: list[str], words: set[str], names: set[str], limit_per_shape: int = 3, max_pages: int = 400,
         collect: dict | None = None):
    """Follow the links from `start`; (visited paths, problems). `collect` gathers the first page of each shape
    (path → HTML) for the Nu HTML Checker."""
    seen, per_shape, problems, visited = set(), {}, [], []
    todo = list(start)
    while todo and len(visited) < max_pages:
        path = todo.pop(0)
        if path in seen or any(path.startswith(n) for n in NEVER):
            continue
        seen.add(path)
        key = shape(path)
        if per_shape.get(key, 0) >= limit_per_shape:
            continue
        per_shape[key] = per_shape.get(key, 0) + 1
        resp = web.get(path)
        visited.append(path)
        if resp.status_code >= 500:
            problems.append(f"{path}: {resp.status_code}")
            continue
        if resp.status_code in (301, 302, 303):
            todo.append(resp.headers["Location"].replace("http://localhost", ""))
            continue
        if not resp.mimetype == "text/html":
            continue
        html = resp.get_data(as_text=True)
        if collect is not None and per_shape[key] == 1:
            collect.setdefault(key, (path, resp.get_data()))
        problems += [f"{path}: {p}" for p in english_in(readable_text(html), words, names)]
        todo += [link for link in links(html, path) if link not in seen]
    return visited, problems


# The test's people, Vietnamese as a province's are: account name, roles, name shown.
PEOPLE = {"quantri": (["admin"], "Trần Văn Quản"), "bientap": (["editor"], "Nguyễn Thị Biên"),
          "dichgia": (["translator"], "Hoàng Văn Dịch"), "duyet": (["approver"], "Lê Thị Duyệt")}
ROLE_OF = {"admin": "quantri", "editor": "bientap", "translator": "dichgia", "approver": "duyet",
           "operator": "vanhanh"}


def fill_the_studio(app, web, make_web, tmp_path):
    """What a province has after a while: see the module's docstring."""
    from studio.cli import sample as demo
    from studio.extensions import db
    from studio.services import Caller, accounts, areas
    from storage.models import Job, User, Work
    with app.app_context():
        users = {name: accounts.create_user(db.session, Caller(None, "test"), name, PASSWORD, roles, shown,
                                            system=True).id for name, (roles, shown) in PEOPLE.items()}
        store = app.extensions["objectstore"]
        demo.create(db.session, store, tmp_path, app.config["MAX_CONTENT_LENGTH"], app.config["MAX_IMAGE_PIXELS"])
        book_id = demo.create_publication(db.session)
        endpoints = demo.register_endpoints(db.session)
        admin = Caller(db.session.get(User, users["quantri"]), "web")
        province = areas.create(db.session, admin, "20", "Tỉnh Lạng Sơn", "province", None)
        areas.create(db.session, admin, "06079", "Xã Đồng Đăng", "commune", province.id)
        db.session.commit()
    web.login("bientap")
    wid = new_work(web, kind="radio_bulletin", priority="priority")
    upload(web, wid, make_png(tmp_path / "anh.png"), xhr=True)
    web.post(f"/works/{wid}/render", {"channels": ["loudspeaker"]})
    empty = new_work(web, title="Bản tin trống", body="")
    with app.app_context():
        db.session.get(Work, empty).title = "   "  # nothing to read: its render fails with a job error
        db.session.commit()
    web.post(f"/works/{empty}/render", {"channels": ["loudspeaker"]})
    translator = make_web()
    translator.login("dichgia")  # a translation into Tày: its editor shows the translate job's state
    assert translator.post(f"/works/{wid}/translations", {"language": "tyz"}).status_code == 302
    web.post(f"/works/{wid}/transition", {"action": "submit"})
    approver = make_web()
    approver.login("duyet")
    approver.post(f"/works/{wid}/transition", {"action": "approve"})
    approver.post(f"/works/{wid}/transition", {"action": "publish"})
    anon = make_web()
    anon._refresh_token(f"/p/{wid}")
    assert anon.post(f"/p/{wid}/feedback", {"name": "Nguyễn Văn A", "phone": "0912345678", "language": "vi",
                                            "message": "Loa xóm 3 nghe không rõ."}).status_code == 302
    # The loudspeaker fetches its feed and reports a play and a heartbeat (the endpoint pages list them).
    speaker = next(e for e in endpoints if e["kind"] == "loudspeaker")
    auth = {"Authorization": f"Bearer {speaker['token']}"}
    feed = anon.client.get("/api/v1/feed", headers=auth).get_json()
    item = next(i for i in feed["items"] if i["work_id"] == wid)
    now = "2026-11-20T08:00:00+07:00"
    sent = anon.client.post("/api/v1/reports", headers=auth, json={"reports": [
        {"id": "p1", "type": "play", "package": item["package_id"], "file": item["files"][0]["sha256"],
         "start": now, "end": now, "outcome": "played"},
        {"id": "h1", "type": "heartbeat", "holds": [item["package_id"]]}]})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    # The publication gets a second revision (a chapter moved, the ISBN set): revisions and their differences.
    with app.app_context():
        from studio.services import works
        book = db.session.get(Work, book_id)
        chapters = list(book.chapters)
        works.update(db.session, Caller(db.session.get(User, users["bientap"]), "web"), book_id,
                     {"chapters": chapters[1:] + chapters[:1], "meta": {**book.meta, "isbn": "978-604-0-00000-2"}},
                     book.version)
        db.session.commit()
    with app.app_context():
        failed = db.session.scalars(select(Job).where(Job.state == "failed")).all()
        assert failed, "the empty work's render should have failed, to show a job error"
    # The commune's programme: an operator of Đồng Đăng, the published bulletin in it, and an offer.
    with app.app_context():
        from studio.services import programme
        commune = areas.by_code(db.session, "06079")
        admin = Caller(db.session.get(User, users["quantri"]), "web")
        accounts.create_user(db.session, admin, "vanhanh", PASSWORD, ["operator"], "Vàng Văn Hành",
                             area_ids=[commune.id])
        programme.schedule_work(db.session, admin, wid, {"area_codes": ["06079"], "start": "2026-12-07T06:00:00+07:00",
                                                         "rrule": "FREQ=DAILY;COUNT=30"})
        from tests.services.programme_cases import published
        offered = published(db.session, admin.user, "Bản tin khuyến nông")
        programme.schedule_work(db.session, admin, offered.id, {"area_codes": ["06079"],
                                                                "start": "2026-12-07T06:00:00+07:00"})
        db.session.commit()
    return wid


START = ["/", "/programme", "/programme/06079", "/works", "/works/new", "/translate", "/feedback", "/admin/users", "/admin/areas",
         "/admin/endpoints", "/admin/endpoints/network", "/admin/audit", "/settings/media", "/reports/annual",
         "/languages", "/glossary", "/account/tokens", "/no-such-page"]


def test_every_page_as_every_role_is_vietnamese_valid_html5_and_never_a_server_error(app, web, make_web, tmp_path):
    from studio.extensions import db
    from tests.helpers import nu_errors
    from storage.models import User
    wid = fill_the_studio(app, web, make_web, tmp_path)
    words = english_words()
    with app.app_context():
        names = set(db.session.scalars(select(User.username)))
    report, html5 = [], {}
    for role in ("admin", "editor", "translator", "approver"):
        client = make_web()
        client.login(ROLE_OF[role])
        # The demo's bulletin (work 1) has approved translations: their editors are walked too.
        visited, problems = walk(client, START + [f"/works/{wid}", "/works/1", "/works/1/translations"], words,
                                 names, collect=html5)
        assert any(re.fullmatch(r"/works/1/translations/[a-z]+", v) for v in visited), visited
        assert f"/works/{wid}/translations/tyz" in visited
        assert len(visited) > 15, (role, visited)
        report += [f"[{role}] {p}" for p in problems]
    operator = make_web()
    operator.login(ROLE_OF["operator"])
    visited, problems = walk(operator, START + ["/programme/06079?from=2026-12-07"], words, names, collect=html5)
    assert "/programme/06079" in visited and "/programme/06079?from=2026-12-07" in visited, visited
    week = operator.get("/programme/06079?from=2026-12-07").get_data(as_text=True)
    offer = re.search(r'data-offer="(\d+)"', week)
    assert offer and 'class="occurrence priority-priority"' in week and "clash" not in week
    accepted = operator.post(f"/programme/06079/offers/{offer.group(1)}", {"action": "accept", "from": "2026-12-07"})
    assert accepted.status_code == 302
    week = operator.get(accepted.headers["Location"]).get_data(as_text=True)
    assert 'data-offer="' not in week and "occurrence priority-normal clash" in week  # both at 6:00 on 7/12
    report += [f"[operator] {p}" for p in problems]
    anon = make_web()
    visited, problems = walk(anon, ["/login", f"/p/{wid}", "/p", "/no-such-page"], words, names, collect=html5)
    report += [f"[public] {p}" for p in problems]
    # Valid HTML5 (the Nu HTML Checker) on the first page of every shape any role reached.
    nu_dir = tmp_path / "nu"
    nu_dir.mkdir()
    assert len(html5) > 40, sorted(html5)
    report += [f"[html5] {path}:{line}: {msg}" for path, line, msg in nu_errors(dict(html5.values()), nu_dir)]
    assert not report, "\n".join(sorted(set(report)))
    # The check can fail: the same walk over the English interface finds English on every page.
    english = make_web()
    english.login(ROLE_OF["editor"])
    english.get("/lang/en")
    visited, problems = walk(english, ["/works", f"/works/{wid}"], words, names, max_pages=2)
    assert {p.split(":")[0] for p in problems} == {"/works", f"/works/{wid}"}


def test_every_imported_macro_exists():
    """`{% from "x.html" import name %}` names a macro x.html defines (Jinja finds out only when it renders)."""
    templates = ROOT / "templates"
    missing = []
    for path in templates.rglob("*.html"):
        for source, names in re.findall(r'{%\s*from\s+"([^"]+)"\s+import\s+(.+?)\s*(?:with context\s*)?%}',
                                        path.read_text()):
            defined = set(re.findall(r"{%-?\s*macro\s+(\w+)\(", (templates / source).read_text()))
            missing += [f"{path.relative_to(templates)}: {n.strip()} from {source}" for n in names.split(",")
                        if n.strip() not in defined]
    assert not missing, missing
