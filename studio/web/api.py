"""The staff's JSON API under /api/v1, authenticated by personal API tokens (Authorization: Bearer st_...).

The endpoints' API (feed, reports, citizens' feedback) is studio/web/endpoint_api.py.
"""
from __future__ import annotations

import functools
import re
from datetime import timedelta

from flask import Blueprint, current_app, g, jsonify, request, url_for


from storage.models import INT64_MAX, STATES, WORK_KINDS, Asset, Revision, Work
from studio.errors import N_, PermissionDenied, ValidationError
from studio.extensions import csrf, db
from studio import jobs
from studio.services import areas as area_service
from studio.services import endpoints as endpoint_service
from studio.services import Caller, accounts, languages, rendering, translations
from studio.services import feedback as feedback_service
from studio.services import assets as asset_service
from studio.services import works as work_service
from studio.services import editing, workflow
from studio.services import feedback_mail
from studio.web.helpers import bearer, client_ip, error_response, job_error, public_base, receive_upload
from studio.web.helpers import json_body as body
from studio.web.openapi import spec
from studio.jobs.worker import mt_router

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Tokens, not cookies, authenticate here, so a forged cross-site request carries no credentials.
csrf.exempt(bp)


def api_auth(*roles: str):
    """Require a valid bearer token whose owner holds one of the roles."""
    def deco(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            token = bearer()
            user = accounts.user_for_token(db.session, token) if token else None
            if user is None:
                return error_response(401, "unauthorized", "Send a valid personal API token: "
                                                           "Authorization: Bearer st_...")
            db.session.commit()  # last_used_at
            g.caller = Caller(user=user, ip=client_ip())
            if roles and not user.has_role(*roles):
                raise PermissionDenied(N_("This needs the role: %(roles)s."), roles=", ".join(roles))
            return view(*args, **kwargs)
        return wrapped
    return deco


def language_codes() -> list[str]:
    """The registry's language codes (the OpenAPI's choices for a work's source language)."""
    return [lang.code for lang in languages.all_languages(db.session)]


def work_json(w: Work, full: bool = True) -> dict:
    """A work as the API shows it."""
    out = {"id": w.id, "state": w.state, "version": w.version, "current_revision": w.current_revision,
           "approved_revision": w.approved_revision, "published_revision": w.published_revision,
           "author": w.author.username, "created_at": w.created_at.isoformat() + "Z",
           "updated_at": w.updated_at.isoformat() + "Z", **work_service.snapshot(w)}
    if not full:
        out.pop("body")
        out.pop("chapters")
    out["area_codes"] = sorted(a.code for a in w.areas)
    out["url"] = url_for("api.get_work", work_id=w.id)
    return out


def revision_json(r: Revision) -> dict:
    """A revision as the API shows it."""
    return {"number": r.number, "author": r.author.username, "created_at": r.created_at.isoformat() + "Z",
            "note": r.note, "snapshot": r.snapshot}


def asset_json(a: Asset) -> dict:
    """An asset's metadata."""
    return {"id": a.id, "work_id": a.work_id, "kind": a.kind, "name": a.safe_name, "original_name": a.original_name,
            "mime": a.mime, "size": a.size, "sha256": a.sha256, "width": a.width, "height": a.height,
            "duration_s": a.duration_s, "created_at": a.created_at.isoformat() + "Z", "role": a.role,
            "language": a.language}


READERS = ("editor", "translator", "approver")


def int_arg(name: str, default: int | None = None, minimum: int = 1, maximum: int = INT64_MAX,
            required: bool = False) -> int | None:
    """A whole-number query parameter as the OpenAPI states it, or a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        if required:
            raise ValidationError(N_("%(field)s is required."), field=name)
        return default
    value = int(raw) if re.fullmatch(r"-?[0-9]{1,20}", raw) else None
    if value is None or not minimum <= value <= maximum:
        raise ValidationError(N_("%(field)s must be a whole number from %(min)s to %(max)s."), field=name,
                              min=minimum, max=maximum)
    return value


def choice_arg(name: str, choices) -> str:
    """A query parameter that must be one of `choices` when given."""
    value = request.args.get(name)
    if value is None:
        return ""
    if value not in choices:
        raise ValidationError(N_("%(field)s must be one of: %(choices)s."), field=name, choices=", ".join(choices))
    return value


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(spec(language_codes()))


@bp.get("/works")
@api_auth(*READERS)
def list_works():
    """Search works."""
    a = request.args
    per_page = int_arg("per_page", 20, maximum=100)
    page = int_arg("page", 1, maximum=10**6)
    items, total = work_service.search(db.session, q=a.get("q", ""), state=choice_arg("state", STATES),
                                       kind=choice_arg("kind", WORK_KINDS), language=a.get("language", ""),
                                       area_id=int_arg("area"), author=a.get("author", ""),
                                       page=page, per_page=per_page)
    return jsonify(items=[work_json(w, full=False) for w in items], total=total, page=page, per_page=per_page)


@bp.post("/works")
@api_auth("editor")
def create_work():
    """Create a work in draft."""
    work = work_service.create(db.session, g.caller, body("WorkCreate"))
    db.session.commit()
    return jsonify(work_json(work)), 201


@bp.get("/works/<int:work_id>")
@api_auth(*READERS)
def get_work(work_id: int):
    """One work with its body."""
    return jsonify(work_json(work_service.get(db.session, work_id)))


@bp.route("/works/<int:work_id>", methods=["PUT", "PATCH"])
@api_auth("editor")
def update_work(work_id: int):
    """Save a new revision; `version` must be the one you read (409 otherwise)."""
    data = body("WorkUpdate")
    work = editing.save(db.session, g.caller, work_id, data, data.get("version"), data.get("note", ""))
    db.session.commit()
    return jsonify(work_json(work))


@bp.get("/works/<int:work_id>/revisions")
@api_auth(*READERS)
def list_revisions(work_id: int):
    """All revisions of a work, oldest first."""
    work = work_service.get(db.session, work_id)
    return jsonify(items=[revision_json(r) for r in work.revisions])


@bp.get("/works/<int:work_id>/revisions/<int:number>")
@api_auth(*READERS)
def get_revision(work_id: int, number: int):
    """One revision."""
    return jsonify(revision_json(work_service.revision(db.session, work_id, number)))


@bp.post("/works/<int:work_id>/revisions/<int:number>/restore")
@api_auth("editor")
def restore_revision(work_id: int, number: int):
    """Make a new revision equal to revision `number`."""
    work = editing.restore(db.session, g.caller, work_id, number, body("Restore").get("version"))
    db.session.commit()
    return jsonify(work_json(work))


@bp.get("/works/<int:work_id>/diff")
@api_auth(*READERS)
def diff(work_id: int):
    """Field-by-field diff between revisions ?a= and ?b=."""
    if not request.args.get("a") or not request.args.get("b"):
        raise ValidationError(N_("Give two revision numbers: ?a=1&b=2."), field="a")
    a, b = int_arg("a", required=True), int_arg("b", required=True)
    changes = work_service.diff(db.session, work_id, a, b)
    return jsonify(a=a, b=b, changes=[{"field": c["field"], "lines": [t for _, t in c["lines"]]} for c in changes])


@bp.post("/works/<int:work_id>/transitions")
@api_auth(*READERS)
def transition(work_id: int):
    """Apply a workflow action: submit, request_changes, approve, publish, retract."""
    data = body("Transition")
    work = workflow.transition(db.session, g.caller, work_id, data.get("action", ""), data.get("reason", ""),
                               data.get("version"))
    db.session.commit()
    return jsonify(work_json(work))


@bp.get("/works/<int:work_id>/assets")
@api_auth(*READERS)
def list_assets(work_id: int):
    """A work's assets."""
    return jsonify(items=[asset_json(a) for a in work_service.get(db.session, work_id).assets])


@bp.post("/works/<int:work_id>/assets")
@api_auth("editor", "translator")
def upload_asset(work_id: int):
    """Upload one file as multipart field `file`, checked by content; `role` "narration" with a `language`
    makes it the recorded narration of that language (translators: of a language the work is translated into),
    replacing synthesis and any earlier recording of it."""
    asset = receive_upload(g.caller, work_id, request.files.get("file"), request.form.get("role", "attachment"),
                           request.form.get("language") or None)
    return jsonify(asset_json(asset)), 201


@bp.get("/assets/<int:asset_id>")
@api_auth(*READERS)
def get_asset(asset_id: int):
    """An asset's metadata and a download URL valid for one hour (Range requests work on it)."""
    asset = asset_service.get(db.session, asset_id)
    store = current_app.extensions["objectstore"]
    return jsonify({**asset_json(asset),
                    "download_url": store.presign_get(asset.object_key, timedelta(hours=1))})


# ---- jobs (automation clients) ----------------------------------------------------------------------------

def job_api_json(job) -> dict:
    """A job as automation clients see it; the error in the caller's language."""
    def iso(dt):
        return dt.isoformat(timespec="seconds") + "Z" if dt else None
    return {"id": job.id, "kind": job.kind, "work_id": job.work_id, "language": job.language,
            "profile": job.profile, "priority": job.priority, "state": job.state, "progress": job.progress,
            "attempts": job.attempts, "rendition_id": job.rendition_id, "cached": job.cached,
            "error": {"code": job.error_code or "error", "message": job_error(job)} if job.error else None,
            "created_at": iso(job.created_at), "started_at": iso(job.started_at), "finished_at": iso(job.finished_at),
            "url": url_for("api.get_job", job_id=job.id)}


def _string_list(data: dict, key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(N_("%(field)s must be a list of strings."), field=key)
    return value or None


@bp.post("/works/<int:work_id>/renders")
@api_auth("editor")
def queue_renders(work_id: int):
    """Queue renders of a work; 202 with the job ids (follow them at /api/v1/jobs/{id})."""
    data = body("RenderRequest")
    queued = rendering.queue(db.session, g.caller, work_service.get(db.session, work_id), _string_list(data, "channels"),
                             _string_list(data, "languages"))
    db.session.commit()
    return jsonify(jobs=[j.id for j in queued]), 202


@bp.get("/works/<int:work_id>/jobs")
@api_auth(*READERS)
def work_jobs(work_id: int):
    """A work's jobs, newest first."""
    work_service.get(db.session, work_id)
    return jsonify(items=[job_api_json(j) for j in jobs.for_work(db.session, work_id, limit=200)])


@bp.get("/jobs/<int:job_id>")
@api_auth(*READERS)
def get_job(job_id: int):
    """One job."""
    return jsonify(job_api_json(jobs.get_job(db.session, job_id)))


@bp.post("/jobs/<int:job_id>/cancel")
@api_auth("editor", "approver")
def cancel_job(job_id: int):
    """Cancel a job."""
    job = jobs.cancel(db.session, g.caller, job_id)
    db.session.commit()
    return jsonify(job_api_json(job))


# ---- translations --------------------------------------------------------------------------------------

def translation_json(tr, full: bool = True) -> dict:
    """A translation as the API shows it."""
    out = {"language": tr.language, "state": tr.state, "title": tr.title, "version": tr.version,
           "source_revision": tr.source_revision, "progress": translations.progress(tr),
           "updated_at": tr.updated_at.isoformat() + "Z"}
    if full:
        out["segments"] = [{"number": i + 1, **seg} for i, seg in enumerate(tr.segments)]
    return out


@bp.get("/languages")
@api_auth(*READERS)
def list_languages():
    """The language registry with what the studio can do in each language."""
    from studio.web.translate import capability_table
    caps = capability_table()
    return jsonify(items=[{"code": lang.code, "name_vi": lang.name_vi, "name_en": lang.name_en,
                           "script": lang.script, "note": lang.note,
                           "machine_translation_from": caps[lang.code].translate_from,
                           "machine_translation_to": caps[lang.code].translate_to,
                           "speech": caps[lang.code].speech, "speech_recognition": caps[lang.code].recognition}
                          for lang in languages.all_languages(db.session)])


@bp.get("/works/<int:work_id>/translations")
@api_auth(*READERS)
def list_translations(work_id: int):
    """A work's translations with their progress."""
    work_service.get(db.session, work_id)
    return jsonify(items=[translation_json(t, full=False) for t in translations.for_work(db.session, work_id)])


@bp.post("/works/<int:work_id>/translations")
@api_auth("translator", "editor")
def start_translation(work_id: int):
    """Start a translation into {"language": ...}: memory matches and machine translation fill it in a job."""
    language = body("TranslationStart")["language"]
    router = mt_router(current_app)
    tr, job = translations.start(db.session, g.caller, work_id, language, router)
    db.session.commit()
    out = translation_json(tr)
    out["job"] = job.id
    if router.can(work_service.get(db.session, work_id).source_language, language):
        out["machine_job"] = job.id
    return jsonify(out), 201


@bp.get("/works/<int:work_id>/translations/<language>")
@api_auth(*READERS)
def get_translation(work_id: int, language: str):
    """A translation with its segments."""
    return jsonify(translation_json(translations.get(db.session, work_id, language)))


@bp.put("/works/<int:work_id>/translations/<language>/segments/<int:number>")
@api_auth("translator", "editor")
def put_segment(work_id: int, language: str, number: int):
    """Save one segment's target ({"target": ..., "approve": bool})."""
    data = body("SegmentSave")
    seg = translations.save_segment(db.session, g.caller, work_id, language, number - 1,
                                    str(data.get("target", "")), approve=bool(data.get("approve")))
    db.session.commit()
    return jsonify({"number": number, **seg})


@bp.post("/works/<int:work_id>/translations/<language>/approve")
@api_auth("approver")
def approve_translation(work_id: int, language: str):
    """Approve the whole translation once every segment is approved."""
    tr = translations.approve(db.session, g.caller, work_id, language)
    db.session.commit()
    return jsonify(translation_json(tr, full=False))



@bp.get("/feedback")
@api_auth(*feedback_service.STAFF)
def list_feedback():
    """Feedback on the works of the caller's areas, newest first (?state=new|assigned|answered|closed)."""
    items = feedback_service.inbox(db.session, g.caller, request.args.get("state"),
                                   current_app.config["FEEDBACK_PHONE_DAYS"])
    db.session.commit()
    return jsonify(items=[feedback_service.as_json(f, g.caller.user) for f in items])


@bp.post("/feedback/<int:feedback_id>/reply")
@api_auth(*feedback_service.STAFF)
def reply_feedback(feedback_id: int):
    """Answer a message: {"message"}."""
    fb = feedback_service.reply(db.session, g.caller, feedback_id, body("FeedbackReply")["message"])
    feedback_mail.answered(db.session, fb, public_base(), current_app.config["SITE_TITLE"])
    db.session.commit()
    return jsonify(feedback_service.as_json(fb, g.caller.user))


@bp.get("/areas")
@api_auth()
def list_areas():
    """Every area by code."""
    return jsonify(items=[area_service.as_json(a) for a in area_service.all_areas(db.session)])


@bp.post("/areas")
@api_auth("admin")
def create_area():
    """Add an area: {"code", "name", "level", "parent_code"}."""
    area = area_service.add(db.session, g.caller, body("AreaCreate"))
    db.session.commit()
    return jsonify(area_service.as_json(area)), 201


@bp.get("/endpoints")
@api_auth("admin")
def list_endpoints():
    """Every endpoint, by name."""
    return jsonify(items=[endpoint_service.as_json(e) for e in endpoint_service.all_endpoints(db.session)])


@bp.post("/endpoints")
@api_auth("admin")
def create_endpoint():
    """Register an endpoint: {"name", "kind", "area_code", "display", "languages", "zone"}; 201 with its token."""
    data = body("EndpointCreate")
    ep, token = endpoint_service.create(db.session, g.caller, {**data, "area_id": None})
    db.session.commit()
    return jsonify({**endpoint_service.as_json(ep), "token": token}), 201
