"""Administration: users and roles, areas, the audit log."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request,
                   stream_with_context, url_for)
from flask_babel import gettext as _

from storage.models import AREA_LEVELS, ROLES, User
from studio.extensions import db
from studio.services import accounts, audit
from studio.services import areas as area_service
from studio.web.helpers import caller, form_errors, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    """All accounts, and a form to add one."""
    status = 200
    if request.method == "POST":
        with form_errors() as failed:
            accounts.create_user(db.session, caller(), request.form.get("username", ""),
                                 request.form.get("password", ""), request.form.getlist("roles"),
                                 request.form.get("display_name", ""), request.form.getlist("area_ids"))
            db.session.commit()
            flash(_("User created."), "info")
            return redirect(url_for("admin.users"))
        if failed:
            status = failed.status
    all_users = accounts.all_users(db.session)
    return render_template("admin/users.html", users=all_users, roles=ROLES,
                           area_tree=area_service.tree(db.session), form=request.form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def user(user_id: int):
    """Change one user's roles, areas, name, status or password."""
    status = 200
    target = db.session.get(User, user_id)
    if target is None:
        return render_template("error.html", status=404, message=_("No such user.")), 404
    if request.method == "POST":
        with form_errors() as failed:
            accounts.update_user(db.session, caller(), user_id, roles=request.form.getlist("roles"),
                                 active=request.form.get("active") == "on",
                                 display_name=request.form.get("display_name", ""),
                                 area_ids=request.form.getlist("area_ids"),
                                 password=request.form.get("password") or None)
            db.session.commit()
            flash(_("Saved."), "info")
            return redirect(url_for("admin.users"))
        if failed:
            status = failed.status
    return render_template("admin/user.html", target=target, roles=ROLES,
                           area_tree=area_service.tree(db.session)), status


# Where each first-run step is done (checklist.steps gives the order and whether it is done).
SETUP_PAGES = {"areas": "admin.areas", "people": "admin.users", "endpoints": "endpoints.index",
               "voices": "settings.media"}


@bp.get("/setup")
@role_required("admin")
def setup():
    """The first-run checklist: each step links to its page and ticks itself off when done."""
    from studio.services import checklist
    return render_template("admin/setup.html", steps=checklist.steps(db.session), pages=SETUP_PAGES)


@bp.route("/areas", methods=["GET", "POST"])
@role_required("admin")
def areas():
    """The area tree, and a form to add an area."""
    status = 200
    if request.method == "POST":
        with form_errors() as failed:
            area_service.create(db.session, caller(), request.form.get("code", ""), request.form.get("name", ""),
                                request.form.get("level", ""), request.form.get("parent_id", type=int))
            db.session.commit()
            flash(_("Area added."), "info")
            return redirect(url_for("admin.areas"))
        if failed:
            status = failed.status
    return render_template("admin/areas.html", area_tree=area_service.tree(db.session), levels=AREA_LEVELS), status


def _audit_filters() -> dict:
    args = request.args

    def day(name):
        try:
            return datetime.strptime(args.get(name, ""), "%Y-%m-%d")
        except ValueError:
            return None
    until = day("until")
    return {"action": args.get("action", ""), "username": args.get("username", ""),
            "target_type": args.get("target_type", ""), "target_id": args.get("target_id", ""),
            "since": day("since"), "until": until + timedelta(days=1) if until else None}


@bp.get("/audit")
@role_required("admin")
def audit_log():
    """The audit log with filters and pagination."""
    page = max(1, request.args.get("page", 1, type=int))
    per_page = current_app.config["PAGE_SIZE"] * 2
    events, total = audit.page(db.session, _audit_filters(), page, per_page)
    return render_template("admin/audit.html", events=events, total=total, page=page,
                           pages=max(1, -(-total // per_page)), args=request.args)


@bp.get("/audit.csv")
@role_required("admin")
def audit_csv():
    """The filtered audit log as CSV (UTF-8 with BOM so spreadsheet programs read Vietnamese)."""
    q = audit.query(db.session, **_audit_filters())

    def generate():
        yield "\ufeff"
        yield from audit.to_csv_rows(db.session.scalars(q.execution_options(yield_per=500)))
    stamp = datetime.utcnow().strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})
