"""The staff's feedback inbox: citizens' messages on the works of their areas, assigned, answered, closed."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from storage.models import Work
from studio.extensions import db
from studio.services import accounts
from studio.services import feedback as feedback_service
from studio.services import feedback_mail
from studio.web.helpers import caller, form_errors, public_base, role_required

bp = Blueprint("feedback", __name__, url_prefix="/feedback")


@bp.get("")
@role_required(*feedback_service.STAFF)
def inbox():
    """Messages of the caller's areas, newest first, filtered by state."""
    state = request.args.get("state") or None
    items = feedback_service.inbox(db.session, caller(), state, current_app.config["FEEDBACK_PHONE_DAYS"])
    db.session.commit()  # erased phone numbers stay erased
    titles = feedback_service.work_titles(db.session, items)
    return render_template("feedback/list.html", items=items, state=state, titles=titles,
                           states=feedback_service.STATES)


@bp.get("/<int:feedback_id>")
@role_required(*feedback_service.STAFF)
def detail(feedback_id: int):
    """One message: the citizen's words, who has it, the answer form."""
    fb = feedback_service.get(db.session, caller(), feedback_id)
    staff = accounts.active_with_role(db.session, *feedback_service.STAFF)
    return render_template("feedback/detail.html", fb=fb, work=db.session.get(Work, fb.work_id), staff=staff,
                           show_phone=feedback_service.may_see_phone(caller().user, fb))


@bp.post("/<int:feedback_id>/<action>")
@role_required(*feedback_service.STAFF)
def act(feedback_id: int, action: str):
    """Assign, answer or close."""
    with form_errors():
        if action == "assign":
            user_id = request.form.get("user_id", type=int)
            fb = feedback_service.assign(db.session, caller(), feedback_id, user_id)
            if fb.assignee_id != caller().user.id:  # nobody needs a mail about what they just did
                feedback_mail.assigned(db.session, fb, public_base())
            message = _("Assigned.")
        elif action == "reply":
            fb = feedback_service.reply(db.session, caller(), feedback_id, request.form.get("message", ""))
            feedback_mail.answered(db.session, fb, public_base(), current_app.config["SITE_TITLE"])
            message = _("Answer saved; the citizen sees it on the item's page if they agreed to publication.")
        elif action == "close":
            feedback_service.close(db.session, caller(), feedback_id)
            message = _("Closed.")
        else:
            return redirect(url_for(".detail", feedback_id=feedback_id))
        db.session.commit()
        flash(message, "info")
    return redirect(url_for(".detail", feedback_id=feedback_id))
