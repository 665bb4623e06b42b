"""Media on the work's page: queue renders and transcriptions, follow jobs live, cancel or retry, play and
download renditions, correct transcripts and download them as captions."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from storage.models import Job, Rendition
from studio.errors import N_, NotFound
from studio.extensions import db
from studio.services import assets as asset_service
from studio import jobs
from studio.services import rendering, transcripts, works
from studio.web.helpers import caller, form_errors, job_error, role_required
from studio.web.labels import label

bp = Blueprint("media", __name__)
READERS = ("editor", "translator", "approver")


def job_json(job: Job) -> dict:
    """A job as the page's progress poller sees it."""
    return {"id": job.id, "state": job.state, "progress": job.progress, "language": job.language,
            "profile": job.profile, "error": job_error(job), "error_code": job.error_code,
            "state_label": label("job_state", job.state) + (" (" + _("reused") + ")" if job.cached else ""),
            "attempts": job.attempts, "cached": job.cached,
            "log": job.log[-5:]}


@bp.post("/works/<int:work_id>/render")
@role_required("editor")
def render(work_id: int):
    """Queue renders for the chosen channels and languages."""
    with form_errors() as failed:
        jobs = rendering.queue(db.session, caller(), works.get(db.session, work_id),
                               request.form.getlist("channels") or None, request.form.getlist("languages") or None)
        db.session.commit()
    if failed:
        return redirect(url_for("works.view", work_id=work_id))
    flash(_("Queued %(n)s render jobs.", n=len(jobs)), "info")
    return redirect(url_for("works.view", work_id=work_id) + "#jobs")


@bp.get("/works/<int:work_id>/jobs.json")
@role_required(*READERS)
def jobs_json(work_id: int):
    """Live state of a work's jobs."""
    return jsonify(jobs=[job_json(j) for j in jobs.for_work(db.session, work_id)])


@bp.post("/jobs/<int:job_id>/<action>")
@role_required("editor")
def job_action(job_id: int, action: str):
    """Cancel or retry a job."""
    work_id = jobs.get_job(db.session, job_id).work_id
    with form_errors() as failed:
        if action == "cancel":
            jobs.cancel(db.session, caller(), job_id)
        elif action == "retry":
            jobs.retry(db.session, caller(), job_id)
        else:
            raise NotFound(N_("Unknown action: %(a)s."), a=action)
        db.session.commit()
    if failed:
        return redirect(url_for("works.view", work_id=work_id))
    return redirect(url_for("works.view", work_id=work_id) + "#jobs")


@bp.get("/renditions/<int:rendition_id>/<int:index>")
@role_required(*READERS)
def rendition_file(rendition_id: int, index: int):
    """One file of a rendition, streamed from the object store (Range requests pass through)."""
    r = db.session.get(Rendition, rendition_id)
    if r is None or not 0 <= index < len(r.files):
        raise NotFound(N_("No such rendition file."))
    f = r.files[index]
    return stream_object(f["key"], f["size"], f["mime"])


def stream_object(key: str, size: int, mime: str) -> Response:
    """Stream an object from the store; a single Range is passed through (206)."""
    store = current_app.extensions["objectstore"]
    rng = request.range
    if rng and rng.units == "bytes" and len(rng.ranges) == 1:
        bounds = rng.range_for_length(size)
        if bounds is None:  # starts past the end: nothing to send (RFC 9110 15.5.17)
            resp = Response(status=416)
            resp.headers["Content-Range"] = f"bytes */{size}"
            return resp
        start, stop = bounds
        resp = Response(store.get(key, offset=start, length=stop - start), status=206, mimetype=mime)
        resp.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        resp.headers["Content-Length"] = str(stop - start)
    else:
        resp = Response(store.get(key), mimetype=mime)
        resp.headers["Content-Length"] = str(size)
    resp.headers["Accept-Ranges"] = "bytes"
    return resp


@bp.post("/assets/<int:asset_id>/transcribe")
@role_required("editor", "translator")
def transcribe(asset_id: int):
    """Queue speech recognition of an uploaded narration or video."""
    asset = asset_service.get(db.session, asset_id)
    with form_errors() as failed:
        transcripts.queue(db.session, caller(), asset_id, (request.form.get("language") or "").strip())
        db.session.commit()
    if failed:
        return redirect(url_for("works.view", work_id=asset.work_id))
    flash(_("Transcription queued."), "info")
    return redirect(url_for("works.view", work_id=asset.work_id) + "#jobs")


@bp.route("/assets/<int:asset_id>/transcript", methods=["GET", "POST"])
@role_required(*READERS)
def transcript(asset_id: int):
    """The timed transcript, one editable text per segment, with SRT and WebVTT downloads."""
    asset = asset_service.get(db.session, asset_id)
    status = 200
    if request.method == "POST":
        with form_errors() as failed:
            transcripts.correct(db.session, caller(), asset_id, request.form.getlist("text"))
            db.session.commit()
            flash(_("Transcript saved."), "info")
            return redirect(url_for(".transcript", asset_id=asset_id))
        if failed:
            status = failed.status
    return render_template("works/transcript.html", asset=asset,
                           transcript=transcripts.transcript(db.session, asset_id)), status


@bp.get("/assets/<int:asset_id>/captions.<fmt>")
@role_required(*READERS)
def captions(asset_id: int, fmt: str):
    """The transcript as SRT or WebVTT captions."""
    if fmt not in ("srt", "vtt"):
        raise NotFound(N_("No such caption format."))
    text = transcripts.as_captions(db.session, asset_id, fmt)
    mime = "application/x-subrip" if fmt == "srt" else "text/vtt"
    name = asset_service.get(db.session, asset_id).safe_name.rsplit(".", 1)[0]
    return Response(text, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
