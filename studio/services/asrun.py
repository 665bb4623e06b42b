"""As-run, the proof of play: every occurrence the programme gave each endpoint in a period, against the plays
the endpoint reported for it (a play report's `scheduled_at` and `item`).

- played: a play of it was reported with the outcome `played`;
- failed: a play was reported with another outcome (the file failed, the player skipped it);
- missed: nothing was reported by GRACE after its time;
- pending: its time, or the grace after it, has not passed yet.

An endpoint answers only for occurrences after it was registered. The occurrences are the ones the feed gave
(occurrences.Book.applicable: the endpoint's commune and zone, files that fit it, the package valid then);
items cancelled since are not counted. Reports are read in one query as (endpoint, epoch second, item), so a
province-month of millions of occurrences is a loop over tuples (bench/bench_programme.py measures it).
"""
from __future__ import annotations

import bisect
import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from storage.models import Area, Endpoint, EndpointReport, utcnow
from studio.errors import N_, PermissionDenied, ValidationError
from studio.services import Caller, areas, clock, occurrences, programme
from studio.services.accounts import require_role

STATES = ("played", "missed", "pending", "failed")
GRACE = timedelta(hours=1)
MAX_DAYS = 31
CSV_COLUMNS = ("at", "state", "area_code", "endpoint_id", "endpoint", "zone", "item_id", "play", "work_id", "title")
_EPOCH0 = datetime(1970, 1, 1)


@dataclass
class Query:
    """What an as-run asks: a period (at most MAX_DAYS), the areas in reach, optionally one state."""

    start: datetime
    end: datetime
    area_ids: set[int] | None  # None: every area
    state: str | None = None

    @classmethod
    def from_args(cls, session: Session, caller: Caller, area_code: str | None, start, end,
                  state: str | None = None) -> "Query":
        """Checked: the caller's reach (operators: their areas), the area, the period."""
        require_role(caller, "operator", "editor", "approver")
        reach = programme.scope(session, caller)
        area = areas.named(session, area_code, "area_code")
        ids = areas.below(session, area.id) if area is not None else None
        if reach is not None:
            if area is not None and area.id not in reach:
                raise PermissionDenied(N_("This commune is not one of your areas."))
            ids = reach if ids is None else ids & reach
        t0, t1 = clock.to_utc(start, "from"), clock.to_utc(end, "to")
        if t0 is None or t1 is None:
            raise ValidationError(N_("Give the period: from and to."), field="from" if t0 is None else "to")
        if not t0 < t1 <= t0 + timedelta(days=MAX_DAYS):
            raise ValidationError(N_("The period runs forward and is at most %(n)s days."), field="to", n=MAX_DAYS)
        return cls(t0, t1, ids, state)


def _epoch_column(session: Session, column):
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", column), Integer)
    return cast(func.strftime("%s", column), Integer)


def _epoch(dt: datetime) -> int:
    return int((dt - _EPOCH0).total_seconds())


def reported(session: Session, start: datetime, end: datetime) -> dict[tuple[int, int, int], bool]:
    """(endpoint, epoch second of the occurrence, item or 0) -> whether a play of it was `played`, for the
    plays of programme occurrences in [start, end + GRACE]."""
    out: dict[tuple[int, int, int], bool] = {}
    rows = session.execute(select(EndpointReport.endpoint_id, _epoch_column(session, EndpointReport.scheduled_at),
                                  EndpointReport.item_id, EndpointReport.outcome)
                           .where(EndpointReport.type == "play", EndpointReport.scheduled_at >= start,
                                  EndpointReport.scheduled_at < end + GRACE))
    for endpoint_id, epoch, item_id, outcome in rows:
        key = (endpoint_id, epoch, item_id or 0)
        out[key] = out.get(key, False) or outcome == "played"
    return out


def _endpoints(session: Session, query: Query) -> list:
    where = [Endpoint.active.is_(True), Endpoint.area_id.is_not(None)]
    if query.area_ids is not None:
        where.append(Endpoint.area_id.in_(query.area_ids))
    return list(session.execute(select(Endpoint.id, Endpoint.name, Endpoint.kind, Endpoint.area_id, Endpoint.zone,
                                       Endpoint.display, Endpoint.languages, Endpoint.created_at)
                                .where(*where).order_by(Endpoint.area_id, Endpoint.id)))


def rows(session: Session, query: Query, now: datetime | None = None) -> Iterator[tuple]:
    """(occurrence, endpoint row, state) for every occurrence of every endpoint in reach, by endpoint, then
    time; only the asked state when the query names one."""
    now = now or utcnow()
    book = occurrences.Book(session, query.start, query.end)
    plays = reported(session, query.start, query.end)
    timed: dict[tuple, tuple[list, list]] = {}
    for ep in _endpoints(session, query):
        audience = (ep.area_id, ep.zone or "", ep.kind, ep.display or "", tuple(ep.languages or ()))
        hit = timed.get(audience)
        if hit is None:
            these = [o for o, _p in book.applicable(session, *audience) if o.at < query.end]  # not later replays
            hit = timed[audience] = (these, [o.at for o in these])
        these, times = hit
        first = bisect.bisect_left(times, ep.created_at) if ep.created_at else 0
        for o in these[first:]:
            epoch = _epoch(o.at)
            played = plays.get((ep.id, epoch, o.item_id))
            if played is None:
                played = plays.get((ep.id, epoch, 0))
            if played is not None:
                state = "played" if played else "failed"
            else:
                state = "pending" if o.at + GRACE > now else "missed"
            if query.state is None or state == query.state:
                yield o, ep, state


def totals(session: Session, query: Query, now: datetime | None = None) -> dict[str, int]:
    out = dict.fromkeys(STATES, 0)
    for _o, _ep, state in rows(session, query, now):
        out[state] += 1
    return out


def _codes(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Area.id, Area.code)).all())


def _row_json(o, ep, state: str, codes: dict[int, str]) -> dict:
    return {"at": clock.iso(o.at), "state": state, "area_code": codes.get(ep.area_id, ""), "endpoint_id": ep.id,
            "endpoint": ep.name, "zone": ep.zone or "", "item_id": o.item_id, "play": o.play, "work_id": o.work_id,
            "title": o.title}


def page_json(session: Session, query: Query, page: int = 1, per_page: int = 100,
              now: datetime | None = None) -> dict:
    """The totals of each state, and one page of the occurrences (of the asked state, if any)."""
    counts = dict.fromkeys(STATES, 0)
    codes, items, first = _codes(session), [], (page - 1) * per_page
    n = 0
    for o, ep, state in rows(session, Query(query.start, query.end, query.area_ids), now):
        counts[state] += 1
        if query.state is None or state == query.state:
            if first <= n < first + per_page:
                items.append(_row_json(o, ep, state, codes))
            n += 1
    return {"from": clock.iso(query.start), "to": clock.iso(query.end), "totals": counts, "total": n, "page": page,
            "per_page": per_page, "items": items}


def csv_lines(session: Session, query: Query) -> Iterator[str]:
    """The as-run as CSV lines (a header, then a line per occurrence and endpoint), for a streamed download."""
    codes = _codes(session)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    for o, ep, state in rows(session, query):
        buf.seek(0)
        buf.truncate()
        r = _row_json(o, ep, state, codes)
        writer.writerow([r[c] if r[c] is not None else "" for c in CSV_COLUMNS])
        yield buf.getvalue()


def missed_since(session: Session, since: datetime, now: datetime | None = None, limit: int = 200) -> list[dict]:
    """The missed plays between `since` and now (the network page: the last 24 hours), newest first."""
    now = now or utcnow()
    query = Query(since, now, None, "missed")
    codes = _codes(session)
    found = [_row_json(o, ep, state, codes) for o, ep, state in rows(session, query, now)]
    found.sort(key=lambda r: r["at"], reverse=True)
    return found[:limit]


def share_by_area(session: Session, start: datetime, end: datetime, now: datetime | None = None) -> dict[str, dict]:
    """For the annual report: per area code, the plays scheduled whose time (and grace) has passed, and how
    many of them were reported played. Counted per audience and endpoint (a bisection, not a loop over every
    occurrence) and the plays in SQL, so a province's year takes seconds; a month at a time keeps each Book
    small."""
    now = now or utcnow()
    end = min(end, now - GRACE)
    codes, out = _codes(session), {}
    eps = _endpoints(session, Query(start, end, None))
    t = start
    while t < end:
        t1 = min(end, t + timedelta(days=MAX_DAYS))
        book = occurrences.Book(session, t, t1)
        times: dict[tuple, list] = {}
        for ep in eps:
            audience = (ep.area_id, ep.zone or "", ep.kind, ep.display or "", tuple(ep.languages or ()))
            if audience not in times:
                times[audience] = [o.at for o, _p in book.applicable(session, *audience) if o.at < t1]
            at = times[audience]
            n = len(at) - (bisect.bisect_left(at, ep.created_at) if ep.created_at else 0)
            if n:
                row = out.setdefault(codes.get(ep.area_id, ""), {"scheduled": 0, "played": 0})
                row["scheduled"] += n
        t = t1
    plays = select(EndpointReport.endpoint_id, EndpointReport.scheduled_at, EndpointReport.item_id).where(
        EndpointReport.type == "play", EndpointReport.outcome == "played", EndpointReport.scheduled_at >= start,
        EndpointReport.scheduled_at < end).distinct().subquery()  # an occurrence played twice counts once
    played = session.execute(select(Endpoint.area_id, func.count()).join(plays, plays.c.endpoint_id == Endpoint.id)
                             .group_by(Endpoint.area_id))
    for area_id, n in played:
        row = out.setdefault(codes.get(area_id, ""), {"scheduled": 0, "played": 0})
        row["played"] = min(row["scheduled"], n)  # a play of an item cancelled since is not counted
    for row in out.values():
        row["share"] = round(row["played"] / row["scheduled"], 4) if row["scheduled"] else None
    return out
