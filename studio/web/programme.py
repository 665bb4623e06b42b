"""The programme page: a commune's (or zone's) week, its offers, its own items, for operators and the
province's staff. Every action is a plain form (keyboard first); dragging an item to another day is the same
form sent by the page's script."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from storage.models import utcnow
from studio.extensions import db
from studio.services import areas, asrun, clock, occurrences, programme
from studio.web.helpers import caller, form_errors, role_required

bp = Blueprint("programme", __name__, url_prefix="/programme")
STAFF = ("operator", "editor", "approver")


def _area(code: str):
    area = areas.by_code(db.session, code)
    reach = programme.scope(db.session, caller())
    if area is None or (reach is not None and area.id not in reach):
        abort(404)
    return area


def _week_start() -> datetime:
    """The first local day shown (?from=YYYY-MM-DD, default today) as naive UTC."""
    raw = request.args.get("from") or ""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = clock.local(utcnow()).date()
    return clock.to_utc(datetime(day.year, day.month, day.day), "from")


@bp.get("")
@role_required(*STAFF)
def index():
    """The communes whose programme the caller may see."""
    return render_template("programme/index.html", communes=programme.communes_in_reach(db.session, caller()))


@bp.get("/as-run")
@role_required(*STAFF)
def as_run():
    """Proof of play: each occurrence on each endpoint, played, missed, failed or pending, for an area and a
    period (default: the last 24 hours), a page at a time; the same as CSV."""
    now = utcnow()
    args = request.args
    start_raw = args.get("from") or clock.local(now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    end_raw = args.get("to") or clock.local(now).strftime("%Y-%m-%dT%H:%M")
    state = args.get("state") if args.get("state") in asrun.STATES else None
    page = max(1, args.get("page", 1, type=int))
    data = None
    with form_errors() as failed:
        query = asrun.Query.from_args(db.session, caller(), args.get("area") or None, start_raw, end_raw, state)
        if args.get("format") == "csv":
            return Response(stream_with_context(asrun.csv_lines(db.session, query)), mimetype="text/csv",
                            headers={"Content-Disposition": 'attachment; filename="as-run.csv"'})
        data = asrun.page_json(db.session, query, page, 100)
    return render_template("programme/as_run.html", data=data, communes=programme.communes_in_reach(db.session, caller()),
                           area=args.get("area") or "", start=start_raw[:16], end=end_raw[:16], state=state,
                           states=asrun.STATES, page=page), failed.status if failed else 200


@bp.get("/<code>")
@role_required(*STAFF)
def week(code: str):
    """A week of an area's programme, by day, with clashes marked."""
    area = _area(code)
    zone = request.args.get("zone") or None
    start = _week_start()
    days = [clock.local(start + timedelta(days=i)).date() for i in range(7)]
    occ = occurrences.area_week(db.session, area, zone, start, start + timedelta(days=7))
    by_day = {d.isoformat(): [o for o in occ if o["at"][:10] == d.isoformat()] for d in days}
    items = programme.area_items(db.session, area)
    return render_template("programme/week.html", area=area, zone=zone, days=days, by_day=by_day,
                           items={i.id: i for i in items}, zones=programme.zones_of(db.session, area),
                           offers=[i for i in items if i.state == "offered"],
                           works=programme.schedulable_works(db.session),
                           operator=caller().user.has_role("operator"),
                           previous=(days[0] - timedelta(days=7)).isoformat(),
                           next=(days[0] + timedelta(days=7)).isoformat(),
                           clashes=sum(1 for o in occ if o["clash"]))


def _back(code: str):
    return redirect(url_for("programme.week", code=code, zone=request.form.get("zone_view") or None,
                            **({"from": request.form["from"]} if request.form.get("from") else {})))


@bp.post("/<code>/offers/<int:item_id>")
@role_required("operator")
def offer(code: str, item_id: int):
    """Accept (optionally at another time, with another rule) or decline an offer."""
    _area(code)
    with form_errors():
        if request.form.get("action") == "decline":
            programme.decline(db.session, caller(), item_id, request.form.get("reason", ""))
            flash(_("Offer declined."), "info")
        else:
            data = {k: request.form[k] for k in ("start", "rrule") if request.form.get(k)}
            programme.accept(db.session, caller(), item_id, data)
            flash(_("Offer accepted into the programme."), "info")
        db.session.commit()
    return _back(code)


@bp.post("/<code>/items/<int:item_id>")
@role_required("operator")
def change(code: str, item_id: int):
    """Move an item (start, rule), set its order in the slot, or cancel the commune's own."""
    _area(code)
    data: dict = {}
    if request.form.get("start"):
        data["start"] = request.form["start"]
    if request.form.get("position", "").strip():
        data["position"] = request.form.get("position", type=int, default=-1)
    if "rrule" in request.form and request.form.get("start"):
        data["rrule"] = request.form.get("rrule", "")
    if request.form.get("cancel"):
        data["cancel"] = True
    with form_errors():
        programme.change(db.session, caller(), item_id, data)
        db.session.commit()
        flash(_("Programme changed."), "info")
    return _back(code)


@bp.post("/<code>/items")
@role_required("operator")
def add(code: str):
    """Add the commune's own item: a published work or a relay."""
    _area(code)
    f = request.form
    data = {"area_code": code, "start": f.get("start", ""), "rrule": f.get("rrule", ""), "zone": f.get("zone", ""),
            "priority": f.get("priority") or "normal", "title": f.get("title", ""),
            "relay_url": f.get("relay_url", ""), "replays": f.get("replays", 0, type=int),
            "replay_gap_s": f.get("replay_gap_s", 0, type=int)}
    if f.get("work_id"):
        data["work_id"] = f.get("work_id", type=int)
    if f.get("duration_s"):
        data["duration_s"] = f.get("duration_s", 0, type=int)
    with form_errors():
        programme.add_own(db.session, caller(), data)
        db.session.commit()
        flash(_("Item added to the programme."), "info")
    return _back(code)


@bp.get("/<code>/schedule.ics")
@role_required(*STAFF)
def calendar(code: str):
    """The area's programme as a calendar file (the same as the API's), for any calendar application."""
    area = _area(code)
    return Response(occurrences.area_calendar(db.session, area), mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="programme-{area.code}.ics"'})
