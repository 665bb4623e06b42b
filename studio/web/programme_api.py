"""The commune's programme in the staff's JSON API under /api/v1: schedules, offers, the commune's own items,
an area's programme and calendar, and the as-run. (The endpoints take their programme in the feed and as
/api/v1/feed/schedule.ics, studio/web/endpoint_api.py.)"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, g, jsonify, request, stream_with_context

from storage.models import utcnow
from studio.errors import N_, NotFound, PermissionDenied
from studio.extensions import csrf, db
from studio.services import areas, asrun, clock, occurrences, programme
from studio.web.api import api_auth, choice_arg, int_arg
from studio.web.helpers import json_body as body

bp = Blueprint("programme_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # tokens, not cookies, authenticate here

STAFF = ("operator", "editor", "approver")


@bp.post("/works/<int:work_id>/schedule")
@api_auth(*programme.SCHEDULERS)
def schedule_work(work_id: int):
    """Schedule a published work: {"area_codes", "zone"?, "start", "rrule"?, "replays"?, "replay_gap_s"?}."""
    sched = programme.schedule_work(db.session, g.caller, work_id, body("ScheduleCreate"))
    db.session.commit()
    return jsonify(programme.schedule_json(db.session, sched)), 201


@bp.post("/schedules/<int:schedule_id>/cancel")
@api_auth(*programme.SCHEDULERS)
def cancel_schedule(schedule_id: int):
    sched = programme.cancel_schedule(db.session, g.caller, schedule_id)
    db.session.commit()
    return jsonify(programme.schedule_json(db.session, sched))


@bp.get("/offers")
@api_auth(*STAFF)
def list_offers():
    state = choice_arg("state", ("offered", "accepted", "declined", "cancelled")) or None
    return jsonify(items=[programme.item_json(i) for i in programme.offers(db.session, g.caller, state)])


@bp.post("/offers/<int:item_id>/accept")
@api_auth("operator")
def accept_offer(item_id: int):
    data = body("OfferAccept") if request.get_data() else {}
    item = programme.accept(db.session, g.caller, item_id, data)
    db.session.commit()
    return jsonify(programme.item_json(item))


@bp.post("/offers/<int:item_id>/decline")
@api_auth("operator")
def decline_offer(item_id: int):
    item = programme.decline(db.session, g.caller, item_id, body("OfferDecline")["reason"])
    db.session.commit()
    return jsonify(programme.item_json(item))


@bp.post("/programme/items")
@api_auth("operator")
def add_item():
    item = programme.add_own(db.session, g.caller, body("ProgrammeItemCreate"))
    db.session.commit()
    return jsonify(programme.item_json(item)), 201


@bp.patch("/programme/items/<int:item_id>")
@api_auth("operator")
def change_item(item_id: int):
    item = programme.change(db.session, g.caller, item_id, body("ProgrammeItemChange"))
    db.session.commit()
    return jsonify(programme.item_json(item))


def _area_in_reach(code: str):
    area = areas.by_code(db.session, code)
    if area is None:
        raise NotFound(N_("No area has the code %(code)s."), code=code)
    reach = programme.scope(db.session, g.caller)
    if reach is not None and area.id not in reach:
        raise PermissionDenied(N_("This commune is not one of your areas."))
    return area


@bp.get("/areas/<area_code>/programme")
@api_auth(*STAFF)
def area_programme(area_code: str):
    """An area's items and occurrences from `from` (default: the start of today) over `days` (default 7)."""
    area = _area_in_reach(area_code)
    days = int_arg("days", 7, maximum=31)
    start = clock.to_utc(request.args.get("from"), "from") if request.args.get("from") else \
        occurrences.window(utcnow(), 0)[0]
    end = start + timedelta(days=days)
    zone = request.args.get("zone")
    return jsonify({"area_code": area.code, "zone": zone, "from": clock.iso(start), "to": clock.iso(end),
                    "items": [programme.item_json(i) for i in programme.area_items(db.session, area)],
                    "occurrences": occurrences.area_week(db.session, area, zone, start, end)})


@bp.get("/areas/<area_code>/schedule.ics")
@api_auth(*STAFF)
def area_calendar(area_code: str):
    area = _area_in_reach(area_code)
    return Response(occurrences.area_calendar(db.session, area), mimetype="text/calendar",
                    headers={"Content-Disposition": f'inline; filename="programme-{area.code}.ics"'})


@bp.get("/as-run")
@api_auth(*STAFF, "admin")
def as_run():
    """Per occurrence and endpoint: played, missed, failed or pending; JSON pages or ?format=csv."""
    query = asrun.Query.from_args(db.session, g.caller, request.args.get("area_code"), request.args.get("from"),
                                  request.args.get("to"), choice_arg("state", asrun.STATES) or None)
    if choice_arg("format", ("json", "csv")) == "csv":
        return Response(stream_with_context(asrun.csv_lines(db.session, query)), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="as-run.csv"'})
    page, per_page = int_arg("page", 1, maximum=10**6), int_arg("per_page", 100, maximum=1000)
    return jsonify(asrun.page_json(db.session, query, page, per_page))
