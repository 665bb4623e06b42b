"""Pages for works: list, create, edit, view, revisions, diff, restore, workflow, uploads."""
from __future__ import annotations

from flask import (Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user

from media_pipeline.profiles import CHANNELS
from storage.models import PRIORITIES, STATES, WORK_KINDS
from studio.extensions import db
from studio.services import areas as area_service
from studio.services import languages as language_service
from studio.services import assets as asset_service
from studio.services import works as work_service
from studio.services import editing, workflow, workpage
from studio.services.works import META_KEYS
from studio.web.labels import label
from studio.web.helpers import (caller, form_errors, receive_upload, role_required,
                        spooled, start_page, wants_json)

bp = Blueprint("works", __name__)

READERS = ("editor", "translator", "approver")


def form_data(form) -> dict:
    """The work fields posted by the edit form."""
    data = {k: form.get(k, "") for k in ("kind", "title", "summary", "body", "source_language", "topics",
                                           "priority", "valid_from", "valid_until", "time_slots")}
    data["channels"] = form.getlist("channels")
    data["area_ids"] = form.getlist("area_ids")
    data["meta"] = {k: form.get(f"meta_{k}", "") for k in META_KEYS}
    data["chapters"] = [{"title": t, "body": b} for t, b in zip(form.getlist("chapter_title"),
                                                                form.getlist("chapter_body"))]
    return data


def _form_context(**extra) -> dict:
    return dict(kinds=WORK_KINDS, channels=list(CHANNELS), priorities=PRIORITIES, area_tree=area_service.tree(db.session),
                meta_keys=META_KEYS, language_registry=language_service.all_languages(db.session), **extra)


@bp.get("/")
def home():
    """The front page is the list of works (a commune's operator's: the programme)."""
    return redirect(start_page())


@bp.get("/works")
@role_required(*READERS)
def index():
    """Works with search, filters and pagination."""
    args = request.args
    page = max(1, args.get("page", 1, type=int))
    per_page = current_app.config["PAGE_SIZE"]
    items, total = work_service.search(db.session, q=args.get("q", ""), state=args.get("state", ""),
                                       kind=args.get("kind", ""), language=args.get("language", ""),
                                       area_id=args.get("area", type=int), author=args.get("author", ""),
                                       page=page, per_page=per_page)
    pages = max(1, -(-total // per_page))
    setup = None
    if "admin" in current_user.role_set:  # a new studio: the admin is shown where to start until it is set up
        from studio.services import checklist
        setup = checklist.steps(db.session)
        setup = None if all(s.done for s in setup) else setup
    return render_template("works/list.html", works=items, total=total, page=page, pages=pages, states=STATES,
                           kinds=WORK_KINDS, area_tree=area_service.tree(db.session), args=args, setup=setup)


@bp.route("/works/new", methods=["GET", "POST"])
@role_required("editor")
def create():
    """Write a new work."""
    if request.method == "POST":
        data = form_data(request.form)
        with form_errors() as failed:
            work = work_service.create(db.session, caller(), data)
            db.session.commit()
        if failed:
            return render_template("works/form.html", work=None, data=data, version=None,
                                   **_form_context()), failed.status
        flash(_("Saved as a draft."), "info")
        return redirect(url_for("works.view", work_id=work.id))
    own = caller().user.areas  # a commune's editor writes for the commune's site and loudspeakers by default
    data = {"kind": request.args.get("kind", "article"), "source_language": "vi", "priority": "normal",
            "channels": [], "area_ids": [a.id for a in own], "meta": {}, "chapters": []}
    return render_template("works/form.html", work=None, data=data, version=None, **_form_context())


@bp.route("/works/<int:work_id>/edit", methods=["GET", "POST"])
@role_required("editor")
def edit(work_id: int):
    """Edit a work; a stale form is refused and the editor's text is shown again, not lost."""
    work = work_service.get(db.session, work_id)
    if request.method == "POST":
        data = form_data(request.form)
        version = request.form.get("version", type=int)
        with form_errors() as failed:
            editing.save(db.session, caller(), work_id, data, version, note=request.form.get("note", ""))
            db.session.commit()
        if failed:
            db.session.refresh(work)
            return render_template("works/form.html", work=work, data=data, version=version,
                                   conflict=failed.error.code == "conflict", **_form_context()), failed.status
        flash(_("Saved revision %(n)s.", n=work.current_revision), "info")
        return redirect(url_for("works.view", work_id=work.id))
    return render_template("works/form.html", work=work, data=work_service.snapshot(work), version=work.version,
                           **_form_context())


@bp.get("/works/<int:work_id>")
@role_required(*READERS)
def view(work_id: int):
    """A work with its assets, state and the actions open to this user."""
    from studio.services import feedback as feedback_service
    work = work_service.get(db.session, work_id)
    return render_template("works/view.html", work=work, actions=workflow.allowed_actions(work, current_user),
                           feedback_count=feedback_service.count_for_work(db.session, work.id),
                           **workpage.media(db.session, work))


@bp.get("/works/<int:work_id>/revisions")
@role_required(*READERS)
def revisions(work_id: int):
    """Revision history, and the diff between two revisions when ?a=&b= are given."""
    work = work_service.get(db.session, work_id)
    a, b = request.args.get("a", type=int), request.args.get("b", type=int)
    changes = work_service.diff(db.session, work_id, a, b, lambda k: label("meta", k)) if a and b else None
    return render_template("works/revisions.html", work=work, a=a, b=b, changes=changes)


@bp.get("/works/<int:work_id>/revisions/<int:number>")
@role_required(*READERS)
def revision(work_id: int, number: int):
    """One revision as it was saved."""
    work = work_service.get(db.session, work_id)
    rev = work_service.revision(db.session, work_id, number)
    return render_template("works/revision.html", work=work, rev=rev)


@bp.post("/works/<int:work_id>/revisions/<int:number>/restore")
@role_required("editor")
def restore(work_id: int, number: int):
    """Make a new revision equal to an earlier one."""
    with form_errors():
        editing.restore(db.session, caller(), work_id, number, request.form.get("version", type=int))
        db.session.commit()
        flash(_("Restored revision %(n)s as a new revision.", n=number), "info")
    return redirect(url_for("works.view", work_id=work_id))


@bp.post("/works/<int:work_id>/transition")
@role_required(*READERS)
def transition(work_id: int):
    """Submit, approve, request changes, publish or retract."""
    action = request.form.get("action", "")
    with form_errors() as failed:
        workflow.transition(db.session, caller(), work_id, action, request.form.get("reason", ""),
                            request.form.get("version", type=int))
        db.session.commit()
        flash(_("Done: %(action)s.", action=label("action", action)), "info")
    if failed:
        return view(work_id), failed.status
    return redirect(url_for("works.view", work_id=work_id))


@bp.post("/works/<int:work_id>/assets")
@role_required("editor", "translator")
def upload(work_id: int):
    """Receive one file (the page sends it with a progress bar), check it by content and store it."""
    with form_errors(json=True) as failed:  # the page's script gets the JSON error
        asset = receive_upload(caller(), work_id, request.files.get("file"),
                               request.form.get("role", "attachment"), request.form.get("language") or None)
    if failed:
        return view(work_id), failed.status
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return jsonify(id=asset.id, name=asset.safe_name, kind=asset.kind), 201
    flash(_("Uploaded %(name)s.", name=asset.safe_name), "info")
    return redirect(url_for("works.view", work_id=work_id))


def _stream(key: str, mime: str, filename: str | None = None) -> Response:
    store = current_app.extensions["objectstore"]
    info = store.stat(key)
    headers = {"Content-Length": str(info.size), "Cache-Control": "private, max-age=3600"}
    if filename:
        headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return Response(store.get(key), mimetype=mime, headers=headers)


@bp.get("/assets/<int:asset_id>/thumb")
@role_required(*READERS)
def thumb(asset_id: int):
    """A picture's thumbnail."""
    asset = asset_service.get(db.session, asset_id)
    if not asset.thumb_key:
        return Response(status=404)
    return _stream(asset.thumb_key, "image/jpeg")


@bp.get("/assets/<int:asset_id>/file")
@role_required(*READERS)
def asset_file(asset_id: int):
    """The stored file itself, under its safe name."""
    asset = asset_service.get(db.session, asset_id)
    return _stream(asset.object_key, asset.mime, asset.safe_name)


@bp.post("/works/<int:work_id>/import")
@role_required("editor")
def import_document(work_id: int):
    """Replace the text with an uploaded DOCX, ODT or PDF (a new revision; the old one stays)."""
    from studio.services import imports
    file = request.files.get("file")
    with form_errors(json=True) as failed:
        with spooled(file, "import-") as path:
            result = imports.import_document(db.session, current_app.extensions["objectstore"], caller(), work_id,
                                             path, file.filename, current_app.config["MAX_CONTENT_LENGTH"],
                                             current_app.config["MAX_IMAGE_PIXELS"])
        db.session.commit()
    if failed:
        return redirect(url_for("works.view", work_id=work_id))
    flash(_("Imported %(blocks)s headings and paragraphs, %(chapters)s chapters and %(pictures)s pictures as a new "
            "revision.", blocks=result["blocks"], chapters=result["chapters"], pictures=len(result["pictures"])),
          "info")
    for s in result["skipped"]:
        flash(_("Picture %(name)s was not imported: %(why)s", name=s["name"], why=s["why"]), "error")
    if wants_json():
        return jsonify(result)
    return redirect(url_for("works.view", work_id=work_id))
