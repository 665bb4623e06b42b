"""CAP pages: the live alerts in Atom and each one's document (public), the emergency screen where an approver
approves an alert's work with all its translations and publishes it, and the admins' trusted senders."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from media_pipeline import cap
from studio.extensions import db
from studio.services import cap_in, cap_out, cap_senders, translations, works
from studio.web.helpers import caller, form_errors, role_required
from studio.web.media import stream_object

bp = Blueprint("cap", __name__)


def settings() -> cap_out.Settings:
    """Who the studio is in CAP, from its configuration."""
    return cap_out.Settings(sender=current_app.config["CAP_SENDER"], public_url=current_app.config["PUBLIC_URL"])


def _base() -> str:
    return (current_app.config["PUBLIC_URL"] or request.url_root).rstrip("/")


@bp.get("/p/<int:work_id>/cap.xml")
def document(work_id: int):
    """The live emergency's CAP 1.2 document."""
    key, size = cap_out.live_document(db.session, work_id)
    return stream_object(key, size, cap.MIME)


@bp.get("/cap/cancel/<int:package_id>.xml")
def cancel(package_id: int):
    """The Cancel of a withdrawn emergency's alert."""
    package = cap_out.retracted(db.session, package_id)
    return Response(cap_out.cancel_document(settings(), package), mimetype=cap.MIME)


@bp.get("/cap/alerts.atom")
def atom():
    """The live alerts (and the last day's cancels) in Atom, for portals and players."""
    body = cap_out.atom(db.session, settings(), _base(), current_app.config["SITE_TITLE"])
    return Response(body, mimetype="application/atom+xml")


@bp.get("/alerts")
@role_required("editor", "approver")
def alerts():
    """The CAP alerts taken in lately, each with its work and what became of it."""
    rows = cap_in.recent(db.session)
    return render_template("cap/alerts.html", rows=rows,
                           works={w.id: w for w in (works.get(db.session, r.work_id) for r in rows if r.work_id)})


@bp.get("/works/<int:work_id>/emergency")
@role_required("editor", "approver")
def emergency(work_id: int):
    """One screen for an emergency: its text and every translation side by side, the alert it came from."""
    work = works.get(db.session, work_id)
    trs = translations.for_work(db.session, work_id)
    return render_template("cap/emergency.html", work=work, trs=trs, alerts=cap_in.for_work(db.session, work_id),
                           progress={t.language: translations.progress(t) for t in trs},
                           texts=cap_out.draft_texts(db.session, work, trs))


@bp.post("/works/<int:work_id>/emergency")
@role_required("approver")
def approve_all(work_id: int):
    """Approve every translation and the work, and publish it."""
    with form_errors() as failed:
        cap_in.approve_all(db.session, caller(), work_id)
        db.session.commit()
    if not failed:
        flash(_("Approved with all its translations, and published."), "info")
    return redirect(url_for(".emergency", work_id=work_id))


@bp.route("/admin/cap-senders", methods=["GET", "POST"])
@role_required("admin")
def senders():
    """The trusted senders: add or change one (its policy and certificate)."""
    if request.method == "POST":
        with form_errors() as failed:
            cap_senders.save(db.session, caller(), request.form, request.form.get("id", type=int))
            db.session.commit()
        if not failed:
            flash(_("Saved."), "info")
        return redirect(url_for(".senders"))
    return render_template("cap/senders.html", senders=cap_senders.all_senders(db.session),
                           policies=cap_senders.POLICIES)


@bp.post("/admin/cap-senders/<int:sender_id>/delete")
@role_required("admin")
def delete_sender(sender_id: int):
    """Remove a sender from the list."""
    with form_errors():
        cap_senders.delete(db.session, caller(), sender_id)
        db.session.commit()
    return redirect(url_for(".senders"))
