"""Translation pages: a work's translations, the side-by-side segment editor, languages, glossaries, memory."""
from __future__ import annotations

from flask import (Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _


from media_pipeline import asr
from storage.models import Job
from studio.errors import N_, ValidationError
from studio.extensions import db
from studio.jobs.worker import mt_router, resources
from studio import jobs
from studio.services import glossary, languages, memory, translations, works
from studio.web.helpers import caller, form_errors, role_required, wants_json

bp = Blueprint("translate", __name__)
READERS = ("editor", "translator", "approver")


def capability_table(codes: list[str] | None = None) -> dict:
    """What each registered language can do with the engines this studio runs."""
    codes = codes or [lang.code for lang in languages.all_languages(db.session)]
    asr_langs = asr.languages() if current_app.config["WHISPER_MODEL"] else set()
    return languages.capabilities(db.session, codes, mt_router(current_app), resources(current_app)("render").engines,
                                  asr_langs)


@bp.get("/works/<int:work_id>/translations")
@role_required(*READERS)
def index(work_id: int):
    """The work's translations with their progress, and a form to start one."""
    work = works.get(db.session, work_id)
    items = translations.for_work(db.session, work_id)
    return render_template("translate/index.html", work=work, items=items, progress=translations.progress,
                           registry=languages.all_languages(db.session), caps=capability_table(),
                           taken={t.language for t in items} | {work.source_language})


def queue_machine_job(work_id: int, language: str) -> Job:
    """Queue machine translation of the empty segments and hand it to the workers (after commit)."""
    job = translations.queue_machine(db.session, caller(), work_id, language, mt_router(current_app))
    db.session.commit()
    return job


@bp.post("/works/<int:work_id>/translations")
@role_required("translator", "editor")
def start(work_id: int):
    """Start a translation: memory matches, then machine translation of the rest, in a background job."""
    language = (request.form.get("language") or "").strip()
    with form_errors() as failed:
        translations.start(db.session, caller(), work_id, language, mt_router(current_app))
        db.session.commit()
        work = works.get(db.session, work_id)
        if mt_router(current_app).can(work.source_language, language):
            flash(_("Memory matches and machine translation of the remaining segments are being filled in; "
                    "reload to see their progress."), "info")
        else:
            flash(_("Memory matches are being filled in; translate the remaining segments by hand."), "info")
    if failed:
        return redirect(url_for(".index", work_id=work_id))
    return redirect(url_for(".editor", work_id=work_id, language=language))


@bp.get("/works/<int:work_id>/translations/<language>")
@role_required(*READERS)
def editor(work_id: int, language: str):
    """Source and target side by side, segment by segment."""
    work = works.get(db.session, work_id)
    tr = translations.get(db.session, work_id, language)
    lang = languages.get(db.session, language)
    cap = capability_table([work.source_language, language])[language]
    job = next(iter(jobs.for_work(db.session, work_id, limit=1, kind="translate", language=language)), None)
    return render_template("translate/editor.html", work=work, tr=tr, lang=lang, cap=cap, job=job,
                           progress=translations.progress(tr),
                           can_machine=mt_router(current_app).can(work.source_language, language))


@bp.post("/works/<int:work_id>/translations/<language>/segments/<int:number>")
@role_required("translator", "editor")
def save_segment(work_id: int, language: str, number: int):
    """Save (and optionally approve) one segment; JSON for the editor's script, a redirect otherwise."""
    approve = request.form.get("approve") == "1"
    with form_errors(json=True) as failed:
        seg = translations.save_segment(db.session, caller(), work_id, language, number - 1,
                                        request.form.get("target", ""), approve=approve)
        db.session.commit()
    if failed:
        return redirect(url_for(".editor", work_id=work_id, language=language) + f"#seg-{number}")
    tr = translations.get(db.session, work_id, language)
    if wants_json():
        # The version orders answers: two saves in flight may come back in either order (studio.js).
        return jsonify(segment=seg, progress=translations.progress(tr), state=tr.state, version=tr.version)
    flash(_("Segment %(n)s saved.", n=number), "info")
    return redirect(url_for(".editor", work_id=work_id, language=language) + f"#seg-{number + 1}")


@bp.get("/works/<int:work_id>/translations/<language>/segments/<int:number>/suggestions")
@role_required(*READERS)
def suggestions(work_id: int, language: str, number: int):
    """Memory matches, glossary hits and violations for one segment."""
    return jsonify(translations.suggestions(db.session, work_id, language, number - 1))


@bp.post("/works/<int:work_id>/translations/<language>/<action>")
@role_required("translator", "editor", "approver")
def act(work_id: int, language: str, action: str):
    """Machine-translate the empty segments, or approve the whole translation."""
    with form_errors():
        if action == "machine":
            queue_machine_job(work_id, language)
            message = _("Machine translation of the empty segments has started; reload to see its progress.")
        elif action == "approve":
            translations.approve(db.session, caller(), work_id, language)
            message = _("Translation approved; it can now be rendered and published.")
        else:
            raise ValidationError(N_("Unknown action: %(a)s."), field="action", a=action)
        db.session.commit()
        flash(message, "info")
    return redirect(url_for(".editor", work_id=work_id, language=language))


@bp.route("/languages", methods=["GET", "POST"])
@role_required(*READERS)
def language_list():
    """The registry with what each language can do; admins add languages."""
    status = 200
    if request.method == "POST":
        with form_errors() as failed:
            lang = languages.add(db.session, caller(), request.form)
            db.session.commit()
            flash(_("Language %(code)s added.", code=lang.code), "info")
            return redirect(url_for(".language_list"))
        if failed:
            status = failed.status
    return render_template("translate/languages.html", registry=languages.all_languages(db.session),
                           caps=capability_table(), form=request.form), status


def _pair() -> tuple[str, str]:
    src = request.values.get("source", "vi")
    dst = request.values.get("target", "en")
    for code in (src, dst):
        languages.get(db.session, code)
    return src, dst


@bp.route("/glossary", methods=["GET", "POST"])
@role_required(*READERS)
def glossary_page():
    """A pair's glossary and translation memory: add and remove terms, import and export TMX."""
    src, dst = _pair()
    status = 200
    if request.method == "POST":
        with form_errors() as failed:
            if request.form.get("delete"):
                glossary.delete(db.session, caller(), int(request.form["delete"]))
                message = _("Term removed.")
            else:
                glossary.add(db.session, caller(), src, dst, request.form.get("term", ""),
                             request.form.get("translation", ""), request.form.get("note", ""))
                message = _("Term added.")
            db.session.commit()
            flash(message, "info")
            return redirect(url_for(".glossary_page", source=src, target=dst))
        if failed:
            status = failed.status
    return render_template("translate/glossary.html", source=src, target=dst,
                           rows=glossary.rows(db.session, src, dst), registry=languages.all_languages(db.session),
                           memory_size=memory.count(db.session, src, dst)), status


@bp.post("/memory/import")
@role_required("translator", "editor")
def memory_import():
    """Load a TMX 1.4 file into the pair's memory; broken XML is refused with its line."""
    src, dst = _pair()
    file = request.files.get("file")
    with form_errors(json=True):
        if file is None or not file.filename:
            raise ValidationError(N_("Choose a file to upload."), field="file")
        added = memory.import_tmx(db.session, caller(), file.stream, src, dst)
        db.session.commit()
        flash(_("%(n)s translation units added to the memory.", n=added), "info")
    return redirect(url_for(".glossary_page", source=src, target=dst))


@bp.get("/memory/export")
@role_required(*READERS)
def memory_export():
    """The pair's memory as a TMX 1.4 download."""
    src, dst = _pair()
    return Response(memory.export_tmx(db.session, src, dst), mimetype="application/x-tmx+xml",
                    headers={"Content-Disposition": f'attachment; filename="memory-{src}-{dst}.tmx"'})
