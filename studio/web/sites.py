"""Commune websites (/x/<code>/, services/sites.py): home, item pages, lists by kind and topic, search,
questions and answers, RSS, sitemap and the accessibility statement; the staff's settings page.

Every page's address ends in "/" (or is a file), so the same pages can be written to the object store as
`sites/<code>/<path>index.html` and served from there or a CDN under the same addresses. Pages in another
language than Vietnamese live under `<lang>/` and speak English around the content (Vietnamese first, English
second); the content is in the item's language and marked with `lang`.
"""
from __future__ import annotations

from email.utils import format_datetime
from datetime import timezone
from xml.etree.ElementTree import Element, SubElement, tostring

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as web_session
from flask_babel import force_locale
from flask_babel import gettext as _

from storage.errors import StorageError
from studio.extensions import db
from studio.services import feedback as feedback_service
from studio.services import feedback_mail, reading, sites
from studio.web.helpers import caller, client_ip, form_errors, public_base, role_required, spooled
from studio.web.media import stream_object
from studio.web.site_files import EXPORT_HEADER, Manifests, key_for, mime_of

bp = Blueprint("sites", __name__, url_prefix="/x/<code>")


def _lang(lang: str | None, found: list[sites.Item]) -> str:
    if lang is None:
        return "vi"
    if lang == "vi" or lang not in sites.languages(found):
        abort(404)
    return lang


def _page(template: str, info: sites.SiteInfo, found: list[sites.Item], lang: str, **kw) -> str:
    static = exporting()  # the static copy's forms and media point at the studio (STUDIO_PUBLIC_URL)
    with force_locale("vi" if lang == "vi" else "en"):
        return render_template(f"sites/{template}", site=info, lang=lang, site_langs=sites.languages(found),
                               kinds=sites.SLUGS, topics=sites.topics(found), static=static,
                               studio=current_app.config["PUBLIC_URL"].rstrip("/") if static else "", **kw)


def _load(code: str):
    cache = current_app.extensions.setdefault("site_items", sites.ItemCache())
    if exporting() and code in cache.pinned:  # the export read this site once for all its pages
        return cache.pinned[code]
    return cache.load(db.session, code)


def manifests(app=None) -> Manifests:
    """This process's view of the sites' export manifests."""
    return (app or current_app).extensions.setdefault("site_manifests", Manifests())


def exporting() -> bool:
    """Whether this page is being written for the static site (studio/web/site_export.py)."""
    return request.headers.get(EXPORT_HEADER) == "1"


LIVE_ONLY = ("hoi-dap/", "tim-kiem/", "cai-dat/")  # forms and search: always answered here


@bp.before_request
def stored_copy():
    """The exported copy of the page, when the site's export is of the current feeds generation and no item of
    it has ended or started since (else the studio renders the page itself until the export catches up)."""
    code = (request.view_args or {}).get("code", "")
    path = request.path[len(f"/x/{code}/"):] if request.path.startswith(f"/x/{code}/") else None
    store = current_app.extensions.get("objectstore")
    if (request.method != "GET" or exporting() or path is None or path.startswith(LIVE_ONLY) or request.query_string
            or web_session.get("_flashes") or store is None):
        return None
    try:
        m = manifests().current(store, code, sites.generation(db.session))
    except StorageError:  # the store is down: the page is rendered as without an export
        return None
    if m is None or path not in m.get("pages", {}):  # not exported yet, or an item ended or started since
        return None
    key = key_for(code, path)
    try:
        data = store.get_bytes(key)
    except StorageError:
        return None
    resp = Response(data, mimetype=mime_of(path).split(";")[0])
    resp.set_etag(m["pages"][path])
    return resp.make_conditional(request)


@bp.get("/", defaults={"lang": None})
def home(code: str, lang: str | None):
    """A live emergency first, then the newest items, this week's programme, the contact."""
    info, found = _load(code)
    lang = _lang(lang, found)
    shown = [i for i in found if lang in i.titles] if lang != "vi" else found
    alerts = sites.emergencies(shown)
    alert_media = {i.work_id: reading.media_of(i.files, lang if lang in i.titles else i.source_language)
                   for i in alerts}
    return _page("home.html", info, found, lang, alerts=alerts, alert_media=alert_media,
                 latest=[i for i in shown if i.priority != "emergency"][:sites.PER_PAGE],
                 week=sites.week(db.session, info) if lang == "vi" else [])


@bp.get("/items/<int:work_id>/", defaults={"lang": None})
@bp.get("/items/<int:work_id>/<lang>/")
def item(code: str, work_id: int, lang: str | None):
    """One item inside the site's frame, in one of its languages."""
    info, found = _load(code)
    it = sites.get_item(found, work_id)
    lang = lang or it.source_language
    if lang not in it.titles:
        abort(404)
    work, package = reading.published(db.session, work_id)
    return _page("item.html", info, found, lang, it=it,
                 ed=reading.edition(db.session, work, package, lang), media=reading.media(package, lang),
                 pictures=sites.pictures(db.session, work_id), item_lang=lang,
                 answers=feedback_service.published_answers(db.session, work_id))


@bp.get("/<kind>/", defaults={"page": 1})
@bp.get("/<kind>/trang-<int:page>/")
def listing(code: str, kind: str, page: int):
    """The items of one kind (tin-tuc, thong-bao, ban-tin, video, an-pham), newest first, paged; a language
    code instead of a kind (/x/<code>/en/) is the home in that language."""
    if kind not in sites.KIND_OF_SLUG and page == 1:
        return home(code, kind)
    info, found = _load(code)
    rows, pages = sites.page_of(sites.of_kind(found, kind), page)
    return _page("list.html", info, found, "vi", rows=rows, page=page, pages=pages, kind=kind,
                 heading=sites.KIND_OF_SLUG[kind])


@bp.get("/chu-de/<topic>/", defaults={"page": 1})
@bp.get("/chu-de/<topic>/trang-<int:page>/")
def topic(code: str, topic: str, page: int):
    """The items of one topic."""
    info, found = _load(code)
    rows, pages = sites.page_of(sites.of_topic(found, topic), page)
    return _page("list.html", info, found, "vi", rows=rows, page=page, pages=pages, topic=topic, heading=None)


@bp.get("/tim-kiem/")
def search(code: str):
    """Search (?q=): every word, diacritics and case aside."""
    info, found = _load(code)
    q = (request.args.get("q") or "").strip()[:200]
    return _page("search.html", info, found, "vi", q=q, rows=sites.search(found, q)[:100] if q else [])


@bp.route("/hoi-dap/", methods=["GET", "POST"])
def questions(code: str):
    """The answered questions the askers agreed to publish, and the question form."""
    info, found = _load(code)
    if request.method == "POST":
        with form_errors() as failed:
            fb = feedback_service.submit(db.session, None, request.form, client_ip(), current_app.config["SECRET_KEY"],
                                         source="site", area=info.area.row(db.session))
            feedback_mail.new_question(db.session, fb, public_base())
            db.session.commit()
        if not failed:
            flash(_("Thank you: your question was sent to the commune's officials."), "info")
        return redirect(url_for(".questions", code=code) + "#hoi")
    return _page("questions.html", info, found, "vi", answers=sites.answers(db.session, info, found))


@bp.get("/tuyen-bo-tiep-can/")
def accessibility(code: str):
    """The accessibility statement."""
    info, found = _load(code)
    return _page("accessibility.html", info, found, "vi")


@bp.get("/logo")
def logo(code: str):
    """The site's logo."""
    info = sites.site(db.session, code)
    if not info.logo:
        abort(404)
    store = current_app.extensions["objectstore"]
    return stream_object(info.logo["key"], store.stat(info.logo["key"]).size, "image/png")


ASSETS = {"site.css": "text/css", "site-search.js": "text/javascript"}


@bp.get("/assets/<name>")
def asset(code: str, name: str):
    """The site's stylesheet and search script (under the site, so a static copy carries them)."""
    if name not in ASSETS:
        abort(404)
    return current_app.send_static_file(name)


@bp.get("/search.json")
def search_index(code: str):
    """The site's search index: each item's address, title and folded words (services/sites.index)."""
    info, found = _load(code)
    return Response(sites.index_json(found, f"/x/{code}"), mimetype="application/json")


@bp.get("/img/<int:work_id>/<int:asset_id>-<int:width>.<fmt>")
def image(code: str, work_id: int, asset_id: int, width: int, fmt: str):
    """A picture of one of the site's items in a responsive width, as WebP or JPEG."""
    info, found = _load(code)
    sites.get_item(found, work_id)
    key, size = sites.image_variant(db.session, current_app.extensions["objectstore"], work_id, asset_id, width,
                                    fmt)
    resp = stream_object(key, size, sites.IMAGE_FORMATS[fmt])
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.get("/rss.xml")
def rss(code: str):
    """RSS 2.0 of the site's items, newest first."""
    info, found = _load(code)
    base = public_base()
    el = Element("rss", version="2.0")
    ch = SubElement(el, "channel")
    SubElement(ch, "title").text = info.name
    SubElement(ch, "link").text = f"{base}/x/{code}/"
    SubElement(ch, "description").text = info.name
    SubElement(ch, "language").text = "vi"
    for i in found[:50]:
        it = SubElement(ch, "item")
        SubElement(it, "title").text = i.title("vi")
        SubElement(it, "link").text = f"{base}/x/{code}/items/{i.work_id}/"
        SubElement(it, "guid", isPermaLink="false").text = f"urn:studio:site:{code}:work:{i.work_id}:p{i.package_id}"
        if i.published_at:
            SubElement(it, "pubDate").text = format_datetime(i.published_at.replace(tzinfo=timezone.utc), usegmt=True)
        SubElement(it, "description").text = i.summary
    return Response(b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(el, encoding="utf-8"),
                    mimetype="application/rss+xml")


@bp.get("/sitemap.xml")
def sitemap(code: str):
    """Every page of the site (sitemaps.org 0.9)."""
    info, found = _load(code)
    base = public_base()
    el = Element("urlset", xmlns="http://www.sitemaps.org/schemas/sitemap/0.9")
    for path in site_paths(info, found):
        SubElement(SubElement(el, "url"), "loc").text = f"{base}/x/{code}/{path}"
    return Response(b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(el, encoding="utf-8"),
                    mimetype="application/xml")


def site_paths(info: sites.SiteInfo, found: list[sites.Item], pictures: dict[int, list] | None = None) -> list[str]:
    """The site's pages, relative to /x/<code>/ (the sitemap, and the static export's list, which also asks for
    the pictures' variants: `pictures` by work id, sites.pictures)."""
    out = [""] + [f"{lang}/" for lang in sites.languages(found) if lang != "vi"]
    for i in found:
        if i.owner(info.chain) != info.area.code:
            continue  # its page is on the site of the area it was sent to
        out.append(f"items/{i.work_id}/")
        out += [f"items/{i.work_id}/{lang}/" for lang in i.languages if lang != i.source_language]
        out += [f"img/{i.work_id}/{p['asset_id']}-{w}.{fmt}" for p in (pictures or {}).get(i.work_id, [])
                for w in p["widths"] for fmt in sites.IMAGE_FORMATS]
    for slug in sites.SLUGS.values():
        n = len(sites.of_kind(found, slug))
        if n:
            out += [f"{slug}/"] + [f"{slug}/trang-{p}/" for p in range(2, -(-n // sites.PER_PAGE) + 1)]
    for t in sites.topics(found):
        n = len(sites.of_topic(found, t))
        out += [f"chu-de/{t}/"] + [f"chu-de/{t}/trang-{p}/" for p in range(2, -(-n // sites.PER_PAGE) + 1)]
    return out + ["tim-kiem/", "hoi-dap/", "tuyen-bo-tiep-can/"]


@bp.route("/cai-dat/", methods=["GET", "POST"])
@role_required(*sites.STAFF)
def settings(code: str):
    """The site's name, contact, address and logo (the area's staff)."""
    info = sites.site(db.session, code)
    if not sites.may_edit(db.session, caller(), info.area.row(db.session)):
        abort(403)
    if request.method == "POST":
        with form_errors() as failed:
            logo = None
            if request.files.get("logo") and request.files["logo"].filename:
                with spooled(request.files["logo"], "logo-") as path:
                    logo = sites.store_logo(db.session, caller(), current_app.extensions["objectstore"], code, path,
                                            current_app.config["MAX_IMAGE_PIXELS"])
            sites.save_settings(db.session, caller(), code, request.form, logo)
            db.session.commit()
        if not failed:
            flash(_("Saved."), "info")
        return redirect(url_for(".settings", code=code))
    return render_template("sites/settings.html", site=info)
