"""As-run, the proof of play: every occurrence the programme gave each endpoint in a period, against the plays
the endpoint reported for it (a play report's `scheduled_at` and `item`).

- played: a play of it was reported with the outcome `played`;
- failed: a play was reported with another outcome (the file failed, the player skipped it);
- missed: nothing was reported by GRACE after its time;
- pending: its time, or the grace after it, has not passed yet.

An endpoint answers only for occurrences after it was registered. The occurrences are the ones the feed gave
(occurrences.Book.applicable: the endpoint's commune and zone, files that fit it, the package valid then);
items cancelled since are not counted. `Frame` packs every occurrence and every play into int64 keys and
matches them with numpy, so a province-month of 5 M occurrences takes seconds (bench/bench_programme.py).
A replay of an occurrence before the period is not counted in it.
"""
from __future__ import annotations

import csv
import functools
import io
import itertools
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

import numpy as np
from sqlalchemy import Integer, case, cast, func, select
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
    """SQL for a stored (naive UTC) time as whole seconds since 1970."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", column), Integer)
    if sqlite3.sqlite_version_info >= (3, 38):
        return func.unixepoch(column)  # a quarter faster than strftime('%s') on millions of rows
    return cast(func.strftime("%s", column), Integer)


def _epoch(dt: datetime) -> int:
    return int((dt - _EPOCH0).total_seconds())


def _endpoints(session: Session, query: Query) -> list:
    where = [Endpoint.active.is_(True), Endpoint.area_id.is_not(None)]
    if query.area_ids is not None:
        where.append(Endpoint.area_id.in_(query.area_ids))
    return list(session.execute(select(Endpoint.id, Endpoint.name, Endpoint.kind, Endpoint.area_id, Endpoint.zone,
                                       Endpoint.display, Endpoint.languages, Endpoint.created_at)
                                .where(*where).order_by(Endpoint.area_id, Endpoint.id)))


_CODES = {"played": 0, "missed": 1, "pending": 2, "failed": 3}
_NAMES = {v: k for k, v in _CODES.items()}
_ITEM_BITS, _TIME_BITS = 21, 22  # a key: endpoint index | seconds into the period | item index
_ANY_ITEM = (1 << _ITEM_BITS) - 1  # a play reported without its item matches any item at that time


class Frame:
    """Every occurrence of a query on every endpoint in reach, as arrays, with its state.

    Occurrences are packed into one int64 key each (endpoint index, second into the period, item index) and
    the period's play reports likewise, read in one query; numpy's set membership (`isin`) then tells played
    and failed ones apart in a few sorts, where a Python loop over millions of tuples took most of a minute
    (bench/bench_programme.py). Rows are materialised only for what is shown (a page, the CSV, the missed)."""

    def __init__(self, session: Session, query: Query, now: datetime | None = None):
        now = now or utcnow()
        book = occurrences.Book(session, query.start, query.end)
        self.eps = _endpoints(session, query)
        item_ids = sorted({r.id for rows_ in book.by_area.values() for r in rows_})
        if len(item_ids) >= _ANY_ITEM or (query.end - query.start).total_seconds() + GRACE.total_seconds() >= \
                1 << _TIME_BITS:
            raise ValidationError(N_("The period runs forward and is at most %(n)s days."), field="to", n=MAX_DAYS)
        dense = {item: i for i, item in enumerate(item_ids)}
        t0 = _epoch(query.start)
        # Per item and audience, its plays in the period (seconds into the period), made once; per audience
        # those of its items, sorted by time, made once; then per endpoint one slice of them, from its
        # registration on (and no later replays).
        self.book, self.rows_ = book, []  # rows_: the items, by the index the arrays hold
        made: dict[int, int] = {}
        audiences: dict[tuple, tuple] = {}
        ep_parts, list_parts, pos_parts, rel_parts, item_parts = [], [], [], [], []
        end_rel = _epoch(query.end) - t0
        for i, ep in enumerate(self.eps):
            files_key = (ep.kind, ep.display or "", tuple(ep.languages or ()))
            aud_key = (ep.area_id, ep.zone or "", files_key)
            aud = audiences.get(aud_key)
            if aud is None:
                files = book.files(session, *files_key)
                parts = []
                for row in book.rows(ep.area_id, ep.zone or ""):
                    k = made.get(row.id)
                    if k is None:
                        k = made[row.id] = len(self.rows_)
                        self.rows_.append(row)
                    pos = np.flatnonzero(book.item_mask(row, files_key, files))
                    rel = book.item_times(row)[pos] - t0
                    parts.append((rel, np.full(len(rel), dense[row.id], dtype=np.int64),
                                  np.full(len(rel), k, dtype=np.int64), pos))
                if parts:
                    rel, item, lst, pos = (np.concatenate([p[j] for p in parts]) for j in range(4))
                    by_time = np.argsort(rel, kind="stable")
                    aud = (rel[by_time], item[by_time], lst[by_time], pos[by_time])
                else:
                    aud = (np.zeros(0, dtype=np.int64),) * 4
                audiences[aud_key] = aud
            rel, item, lst, pos = aud
            born = _epoch(ep.created_at) - t0 if ep.created_at else -1
            lo, hi = np.searchsorted(rel, born), np.searchsorted(rel, end_rel)
            if hi > lo:
                ep_parts.append(np.full(hi - lo, i, dtype=np.int64))
                list_parts.append(lst[lo:hi])
                pos_parts.append(pos[lo:hi])
                rel_parts.append(rel[lo:hi])
                item_parts.append(item[lo:hi])

        def cat(parts):
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        self.ep, self.list, self.pos = cat(ep_parts), cat(list_parts), cat(pos_parts)
        rel, item = cat(rel_parts), cat(item_parts)
        base = (self.ep << (_TIME_BITS + _ITEM_BITS)) | (rel << _ITEM_BITS)
        played, failed = self._reported(session, query, dense, t0)
        is_played = _member(base | item, played[0]) | _member(base | _ANY_ITEM, played[1])
        is_failed = ~is_played & (_member(base | item, failed[0]) | _member(base | _ANY_ITEM, failed[1]))
        due = (rel + int(GRACE.total_seconds())) <= (_epoch(now) - t0)
        self.state = np.where(is_played, 0, np.where(is_failed, 3, np.where(due, 1, 2)))
        self.rel = rel

    @functools.cached_property
    def order(self):
        """The occurrences by endpoint, then time (made when rows are asked for, not for the totals)."""
        return np.lexsort((self.rel, self.ep))

    def _reported(self, session: Session, query: Query, dense: dict[int, int], t0: int):
        """The period's play reports of occurrences as packed keys: (with item, without), played and not;
        read as plain integers and mapped to the frame's indices with lookup arrays."""
        stmt = (select(EndpointReport.endpoint_id, func.coalesce(_epoch_column(session, EndpointReport.scheduled_at),
                                                                 -1),
                       func.coalesce(EndpointReport.item_id, -1), case((EndpointReport.outcome == "played", 1), else_=0))
                .where(EndpointReport.scheduled_at >= query.start, EndpointReport.scheduled_at < query.end + GRACE))
        # Only plays carry scheduled_at; the columns read are all in ix_endpoint_reports_scheduled (a covering
        # index: the rows themselves are never visited).
        result = session.connection().execute(stmt)
        raw = result.cursor.fetchall() if result.cursor is not None else result.fetchall()  # the driver's tuples
        flat = np.fromiter(itertools.chain.from_iterable(raw), dtype=np.int64).reshape(-1, 4)
        empty = np.zeros(0, dtype=np.int64)
        if not len(flat) or not self.eps:
            return (empty, empty), (empty, empty)
        ep_lookup = np.full(max(e.id for e in self.eps) + 1, -1, dtype=np.int64)
        ep_lookup[[e.id for e in self.eps]] = np.arange(len(self.eps))
        item_lookup = np.full(max(dense, default=0) + 1, -1, dtype=np.int64)
        if dense:
            item_lookup[list(dense)] = list(dense.values())
        endpoint, epoch, item, ok = flat.T
        known = endpoint < len(ep_lookup)
        ep_index = np.where(known, ep_lookup[np.where(known, endpoint, 0)], -1)
        any_item = item < 0
        in_range = (item >= 0) & (item < len(item_lookup))
        item_index = np.where(any_item, _ANY_ITEM, np.where(in_range, item_lookup[np.where(in_range, item, 0)], -1))
        keep = (ep_index >= 0) & (epoch >= t0) & (item_index >= 0)  # items no longer playing: not counted
        keys = (ep_index << (_TIME_BITS + _ITEM_BITS)) | ((epoch - t0) << _ITEM_BITS) | item_index

        def pick(played: int, without_item: bool):
            return np.sort(keys[keep & (ok == played) & (any_item == without_item)])
        return (pick(1, False), pick(1, True)), (pick(0, False), pick(0, True))

    def indices(self, state: str | None = None):
        """The occurrences (of one state), by endpoint, then time."""
        return self.order if state is None else self.order[self.state[self.order] == _CODES[state]]

    def row(self, j: int) -> tuple:
        """(occurrence, endpoint row, state) of the j-th occurrence."""
        o = self.book.item_plays(self.rows_[int(self.list[j])])[int(self.pos[j])]
        return o, self.eps[int(self.ep[j])], _NAMES[int(self.state[j])]

    def totals(self) -> dict[str, int]:
        counts = np.bincount(self.state, minlength=4) if len(self.state) else np.zeros(4, dtype=np.int64)
        return {name: int(counts[code]) for name, code in _CODES.items()}


def _member(keys, sorted_set):
    """Which of `keys` are in the sorted array `sorted_set` (a binary search each; no sort of `keys`)."""
    if not len(sorted_set):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, keys), len(sorted_set) - 1)
    return sorted_set[at] == keys


def rows(session: Session, query: Query, now: datetime | None = None) -> Iterator[tuple]:
    """(occurrence, endpoint row, state) for every occurrence of every endpoint in reach, by endpoint, then
    time; only the asked state when the query names one."""
    frame = Frame(session, query, now)
    for j in frame.indices(query.state):
        yield frame.row(j)


def totals(session: Session, query: Query, now: datetime | None = None) -> dict[str, int]:
    """How many occurrences are played, missed, pending and failed."""
    return Frame(session, query, now).totals()


def _codes(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Area.id, Area.code)).all())


def _row_json(o, ep, state: str, codes: dict[int, str]) -> dict:
    return {"at": clock.iso(o.at), "state": state, "area_code": codes.get(ep.area_id, ""), "endpoint_id": ep.id,
            "endpoint": ep.name, "zone": ep.zone or "", "item_id": o.item_id, "play": o.play, "work_id": o.work_id,
            "title": o.title}


def page_json(session: Session, query: Query, page: int = 1, per_page: int = 100,
              now: datetime | None = None) -> dict:
    """The totals of each state, and one page of the occurrences (of the asked state, if any)."""
    frame = Frame(session, Query(query.start, query.end, query.area_ids), now)
    chosen = frame.indices(query.state)
    codes = _codes(session)
    items = [_row_json(*frame.row(j), codes) for j in chosen[(page - 1) * per_page:page * per_page]]
    return {"from": clock.iso(query.start), "to": clock.iso(query.end), "totals": frame.totals(),
            "total": int(len(chosen)), "page": page, "per_page": per_page, "items": items}


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
    many of them were reported played. Counted per audience and endpoint (a binary search, not a loop over every
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
        times: dict[tuple, np.ndarray] = {}
        for ep in eps:
            files_key = (ep.kind, ep.display or "", tuple(ep.languages or ()))
            audience = (ep.area_id, ep.zone or "", files_key)
            if audience not in times:  # the audience's plays in the month, sorted (as Frame, without rows)
                files = book.files(session, *files_key)
                times[audience] = np.sort(np.concatenate(
                    [book.item_times(r)[book.item_mask(r, files_key, files)] for r in book.rows(*audience[:2])]
                    or [np.zeros(0, dtype=np.int64)]))
            at = times[audience]
            born = _epoch(ep.created_at) if ep.created_at else -1
            n = int(np.searchsorted(at, _epoch(t1)) - np.searchsorted(at, born))
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
