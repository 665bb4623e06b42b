"""Public pages for readers (no login): a page per published work with its media and a language switcher,
the media themselves, an RSS 2.0 feed with enclosures, and the NINJS document."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from studio.extensions import db
from studio.services import feedback as feedback_service
from studio.services import feedback_mail, reading
from studio.web.helpers import public_base
from studio.web.media import stream_object

bp = Blueprint("public", __name__)


def _base() -> str:
    return public_base()


@bp.get("/p/<int:work_id>")
def page(work_id: int):
    """The published text, pictures, audio player and captioned video, in the chosen language."""
    work, package = reading.published(db.session, work_id)
    langs = reading.languages(package)
    lang = request.args.get("lang") or langs[0]
    alert = (package.manifest.get("cap") or {}).get("texts", {}).get(lang)
    return render_template("public/item.html", work=work, package=package, langs=langs, alert=alert,
                           ed=reading.edition(db.session, work, package, lang),
                           media=reading.media(package, lang), pictures=reading.pictures(work),
                           feedback=current_app.config["FEEDBACK_URL"],
                           answers=feedback_service.published_answers(db.session, work_id))


@bp.post("/p/<int:work_id>/feedback")
def feedback(work_id: int):
    """A citizen's question or comment on an item, into the inbox of the staff of its areas."""
    from flask import flash, redirect

    from studio.web.helpers import client_ip, form_errors
    with form_errors():
        fb = feedback_service.submit(db.session, work_id, request.form, client_ip(), current_app.config["SECRET_KEY"])
        feedback_mail.new_question(db.session, fb, public_base())
        db.session.commit()
        flash(_("Thank you: your feedback was sent to the editors."), "info")
    return redirect(url_for(".page", work_id=work_id, lang=request.form.get("lang") or None) + "#feedback")


@bp.get("/p/<int:work_id>/media/<sha256>")
def media(work_id: int, sha256: str):
    """A file of the live package (Range requests work)."""
    f = reading.media_file(db.session, work_id, sha256)
    return stream_object(f["key"], f["size"], f["mime"])


@bp.get("/p/<int:work_id>/picture/<int:asset_id>")
def picture(work_id: int, asset_id: int):
    """A picture of a published work."""
    work, _ = reading.published(db.session, work_id)
    asset = next((a for a in reading.pictures(work) if a.id == asset_id), None)
    if asset is None:
        return Response(status=404)
    return stream_object(asset.object_key, asset.size, asset.mime)


@bp.get("/p/<int:work_id>/ninjs.json")
def ninjs(work_id: int):
    """The item in IPTC NINJS, as in its manifest."""
    _, package = reading.published(db.session, work_id)
    return jsonify(package.manifest.get("ninjs", {}))


@bp.get("/rss.xml")
def rss():
    """RSS 2.0 of published items, newest first; ?lang= for one language."""
    body = reading.rss(db.session, _base(), current_app.config["SITE_TITLE"], request.args.get("lang") or None)
    return Response(body, mimetype="application/rss+xml")
