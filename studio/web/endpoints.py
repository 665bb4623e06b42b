"""Distribution endpoints for admins: register, rotate or revoke tokens, see what each holds and played."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from media_pipeline import profiles as registry
from studio.extensions import db
from studio.services import areas as area_service
from storage.models import utcnow
from studio.services import endpoints as endpoint_service
from studio.services import asrun, cap_sources
from studio.services import network as network_service
from studio.web.helpers import caller, form_errors, role_required

bp = Blueprint("endpoints", __name__, url_prefix="/admin/endpoints")


@bp.route("", methods=["GET", "POST"])
@role_required("admin")
def index():
    """All endpoints, and a form to register one (its token is shown once)."""
    token, status = None, 200
    if request.method == "POST":
        with form_errors() as failed:
            ep, token = endpoint_service.create(db.session, caller(), request.form)
            db.session.commit()
            flash(_("Endpoint %(name)s registered. Copy its token now: it is not shown again.", name=ep.name),
                  "info")
        if failed:
            status = failed.status
    return render_template("admin/endpoints.html", items=endpoint_service.all_endpoints(db.session), token=token,
                           kinds=registry.ENDPOINT_KINDS, area_tree=area_service.tree(db.session),
                           form=request.form), status


def offline_after() -> timedelta:
    """How long an endpoint may be silent before it is shown offline."""
    return timedelta(minutes=current_app.config["NETWORK_OFFLINE_MINUTES"])


@bp.get("/network")
@role_required("admin", "editor", "approver")
def network():
    """Every endpoint at a glance: online or offline, last contact, holdings, free space, last plays."""
    now = utcnow()
    area_id = request.args.get("area", type=int)
    kind = request.args.get("kind") or None
    only = request.args.get("state") or None
    every = network_service.overview(db.session, now, offline_after(), area_id, kind)
    rows = [r for r in every if r["state"] == only] if only in network_service.STATES else every
    counts = {s: sum(1 for r in every if r["state"] == s) for s in network_service.STATES}
    return render_template("admin/network.html", rows=rows, counts=counts, area_tree=area_service.tree(db.session),
                           kinds=registry.ENDPOINT_KINDS, states=network_service.STATES, area_id=area_id, kind=kind,
                           only=only, minutes=current_app.config["NETWORK_OFFLINE_MINUTES"],
                           offline=[r for r in every if r["state"] == "offline"],
                           missed=asrun.missed_since(db.session, now - timedelta(hours=24), now),
                           cap_sources=cap_sources.listed(db.session))


@bp.get("/<int:endpoint_id>")
@role_required("admin")
def view(endpoint_id: int):
    """Last contact, what it should hold against what it holds, what it played, day by day."""
    ep = endpoint_service.get(db.session, endpoint_id)
    return render_template("admin/endpoint.html", ep=ep, st=endpoint_service.status(db.session, ep), token=None,
                           history=network_service.history(db.session, ep.id, utcnow()))


@bp.post("/<int:endpoint_id>/<action>")
@role_required("admin")
def act(endpoint_id: int, action: str):
    """Rotate or revoke the endpoint's token."""
    token = None
    with form_errors():
        if action == "rotate":
            token = endpoint_service.rotate(db.session, caller(), endpoint_id)
            flash(_("New token issued; the old one no longer works. Copy it now: it is not shown again."), "info")
        elif action == "revoke":
            endpoint_service.revoke(db.session, caller(), endpoint_id)
            flash(_("Token revoked: the endpoint can no longer fetch its feed."), "info")
        else:
            return redirect(url_for(".view", endpoint_id=endpoint_id))
        db.session.commit()
    ep = endpoint_service.get(db.session, endpoint_id)
    return render_template("admin/endpoint.html", ep=ep, st=endpoint_service.status(db.session, ep), token=token,
                           history=network_service.history(db.session, ep.id, utcnow()))
