"""The commune's programme as it plays: programme items expanded into occurrences, each endpoint's programme
for its feed, and the programme as an RFC 5545 calendar. (The items themselves are made and changed in
studio/services/programme.py.)

- Recurrence: RFC 5545 RRULE values, expanded by python-dateutil's `rrule` from the item's start in the
  studio's time zone (wall-clock times stay put; Asia/Ho_Chi_Minh has no daylight saving). A rule is stored
  with any UNTIL in UTC (`...Z`), as RFC 5545 asks beside a DTSTART with a TZID.
- Replays: an occurrence plays 1 + `replays` times, each `replay_gap_s` after the end of the play before (the
  work's duration). Every play is an occurrence of its own, with its own time, reported and counted.
- Slots: occurrences at the same time play one after another, emergencies first, then priority items, then
  normal ones, each level in the operator's order (`position`).
- An endpoint takes the scheduled items of its commune (or of an area above it, where a schedule named an
  area with no communes), for the whole commune or for the endpoint's zone.
- A work's occurrences play the files of its published package that fit the endpoint (audience.py), and
  only within the package's validity; a relay plays its stream, with the files of its fallback work.

`Book` loads every scheduled item of one feeds generation and window in one query and works per item (its
plays, then its entries per audience), merging them per endpoint; `FeedCache` (feeds.py) keeps one Book per
feeds generation and local day, so every endpoint's programme is a merge of lists already built.
"""
from __future__ import annotations

import functools
import hashlib
import heapq
import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import numpy as np
from dateutil import rrule as du_rrule
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import PLAYING_STATES, Area, Package, PackageFile, ProgrammeItem
from studio.errors import N_, ValidationError
from studio.services import audience, clock

RANK = {"emergency": 0, "priority": 1, "normal": 2}
FEED_DAYS = 7  # the feed's programme: today and the 7 days after
# Rules repeating more often than hourly would flood a loudspeaker's day; vendors offer none.
FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")
MAX_PER_DAY = 48
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.I)
_UNTIL_LOCAL = re.compile(r"UNTIL=(\d{8}(?:T\d{6})?)(?=;|$)", re.I)


class Occurrence(NamedTuple):
    """One play of a programme item, at a time (naive UTC)."""

    at: datetime
    rank: int
    position: int
    item_id: int
    play: int            # 0: the occurrence itself; 1..replays: its replays
    work_id: int | None
    priority: str
    relay_url: str
    duration_s: float
    title: str


class Rule(NamedTuple):
    """When something plays, with ProgrammeItem's field names: a schedule as asked for, before any commune
    moved it."""

    id: int
    work_id: int | None
    priority: str
    start_at: datetime
    rrule: str
    replays: int
    replay_gap_s: int
    position: int = 0
    relay_url: str = ""
    title: str = ""


def _to_utc(local_naive: datetime) -> datetime:
    return local_naive.replace(tzinfo=clock.zone()).astimezone(timezone.utc).replace(tzinfo=None)


def _local_naive(utc_naive: datetime) -> datetime:
    return clock.local(utc_naive).replace(tzinfo=None)


def _parse(rule: str, start_local: datetime) -> du_rrule.rrule:
    try:
        parsed = du_rrule.rrulestr(rule, dtstart=start_local, forceset=False)
    except (ValueError, TypeError, KeyError, AttributeError):
        parsed = None
    if not isinstance(parsed, du_rrule.rrule):
        raise ValidationError(N_("The repeat rule is not an RFC 5545 RRULE, such as FREQ=DAILY or "
                                 "FREQ=WEEKLY;BYDAY=MO,TH."), field="rrule")
    return parsed


def check_rule(rule: str | None, start_at: datetime) -> str:
    """An RRULE value as stored: without "RRULE:", upper case, any UNTIL in UTC; "" for none. A rule dateutil
    cannot read, one repeating more often than hourly, or one with no occurrence from `start_at` (naive UTC)
    is a ValidationError on `rrule`."""
    text = (rule or "").strip()
    if not text:
        return ""
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    text = text.upper()
    if "\n" in text or "DTSTART" in text:
        raise ValidationError(N_("Give the start in \"start\" and only the rule in \"rrule\"."), field="rrule")
    freq = re.search(r"(?:^|;)FREQ=([A-Z]+)", text)
    if freq is None or freq.group(1) not in FREQUENCIES:
        raise ValidationError(N_("A programme item repeats at most hourly: FREQ is one of %(ok)s."), field="rrule",
                              ok=", ".join(FREQUENCIES))

    def until_to_utc(m: re.Match) -> str:
        raw = m.group(1)
        local = datetime.strptime(raw, "%Y%m%dT%H%M%S") if "T" in raw else (
            datetime.strptime(raw, "%Y%m%d") + timedelta(days=1, seconds=-1))
        return "UNTIL=" + _to_utc(local).strftime("%Y%m%dT%H%M%SZ")

    text = _UNTIL_LOCAL.sub(until_to_utc, text)
    start = _local_naive(start_at)
    parsed = _parse(_local_rule(text), start)
    if parsed.after(start, inc=True) is None:
        raise ValidationError(N_("The repeat rule never plays after the start."), field="rrule")
    first_day = 0
    for t in parsed:  # BYMINUTE and the like can make an hourly rule play every minute
        if t >= start + timedelta(days=1):
            break
        first_day += 1
        if first_day > MAX_PER_DAY:
            raise ValidationError(N_("A programme item plays at most %(n)s times a day."), field="rrule",
                                  n=MAX_PER_DAY)
    return text


def _local_rule(rule: str) -> str:
    """The stored rule with its UTC UNTIL as local wall time, for expanding from a local naive start."""
    return _UNTIL_UTC.sub(lambda m: "UNTIL=" + _local_naive(datetime.strptime(m.group(1), "%Y%m%dT%H%M%S"))
                          .strftime("%Y%m%dT%H%M%S"), rule)


@functools.lru_cache(maxsize=65536)
def starts(start_at: datetime, rule: str, w0: datetime, w1: datetime) -> tuple[datetime, ...]:
    """The start times (naive UTC) in [w0, w1) of an item starting at `start_at` and repeating by `rule`.
    Items of one province schedule share start and rule, so each is expanded once."""
    if not rule:
        return (start_at,) if w0 <= start_at < w1 else ()
    a, b = _local_naive(w0), _local_naive(w1)
    return tuple(_to_utc(x) for x in _parse(_local_rule(rule), _local_naive(start_at)).between(a, b, inc=True)
                 if x < b)


def plays(item, duration_s: float, w0: datetime, w1: datetime) -> list[Occurrence]:
    """An item's plays with their replays, starting in [w0, w1). `item` has ProgrammeItem's fields. Times are
    whole seconds (a replay starts on the second after the play before ends, plus the gap), as reports carry."""
    step = timedelta(seconds=int(max(0.0, duration_s) + max(0, item.replay_gap_s)))
    rank = RANK.get(item.priority, 9)
    out = []
    for t in starts(item.start_at, item.rrule or "", w0, w1):
        for k in range(1 + max(0, item.replays)):
            out.append(Occurrence(t + step * k, rank, item.position, item.id, k, item.work_id, item.priority,
                                  item.relay_url, duration_s, item.title))
    return out


def window(now: datetime, days: int = FEED_DAYS) -> tuple[datetime, datetime]:
    """[start of the local day of `now`, the end of the `days`-th day after) as naive UTC."""
    midnight = clock.local(now).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    return _to_utc(midnight), _to_utc(midnight + timedelta(days=days + 1))


_ITEM_COLUMNS = (ProgrammeItem.id, ProgrammeItem.work_id, ProgrammeItem.area_id, ProgrammeItem.zone,
                 ProgrammeItem.priority, ProgrammeItem.start_at, ProgrammeItem.rrule, ProgrammeItem.replays,
                 ProgrammeItem.replay_gap_s, ProgrammeItem.position, ProgrammeItem.relay_url,
                 ProgrammeItem.duration_s, ProgrammeItem.title)


def work_durations(session: Session, work_ids) -> dict[int, float]:
    """Per work, its published package's longest file (seconds; 0 for none): how long one play lasts."""
    out: dict[int, float] = defaultdict(float)
    rows = session.execute(select(Package.work_id, PackageFile.entry).join(Package, Package.id == PackageFile.package_id)
                           .where(Package.state == "published", Package.work_id.in_(list(work_ids))))
    for work_id, entry in rows:
        out[work_id] = max(out[work_id], float((entry or {}).get("duration_s") or 0))
    return out


class Book:
    """Every scheduled item in a window, read in one query, with the published packages of their works.

    The work is done per item and kept: an item's plays (times shared by every item of the same rule), then
    per audience an item's entries (the files that fit, the package's validity); an endpoint's programme is
    those lists merged in playing order, and its hash combines the items' hashes, so a province of thousands of
    communes and zones costs a pass over its items, not over every endpoint's occurrences."""

    def __init__(self, session: Session, w0: datetime, w1: datetime, where=(), previous: "Book | None" = None):
        self.w0, self.w1 = w0, w1
        self.by_area: dict[int, list] = defaultdict(list)
        for row in session.execute(select(*_ITEM_COLUMNS).where(ProgrammeItem.state.in_(PLAYING_STATES), *where)):
            self.by_area[row.area_id].append(row)
        self.parent = dict(session.execute(select(Area.id, Area.parent_id)).all())
        work_ids = {r.work_id for rows in self.by_area.values() for r in rows if r.work_id}
        self.packages: dict[int, tuple] = {}
        for p in session.execute(select(Package.id, Package.work_id, Package.valid_from, Package.valid_until,
                                        Package.manifest_sha256).where(Package.state == "published",
                                                                       Package.work_id.in_(work_ids))):
            self.packages[p.work_id] = p
        self.durations = work_durations(session, work_ids)
        self._plays: dict[int, list[Occurrence]] = {}
        self._files: dict[tuple, dict[int, list[dict]]] = {}
        self._entries: dict[tuple, tuple[list, str]] = {}
        self._applicable: dict[tuple, list] = {}
        self._programmes: dict[tuple, tuple[str, list[dict]]] = {}
        self._iso: dict[datetime, str] = {}
        self._times: dict[int, np.ndarray] = {}
        self._rule_times: dict[int, tuple] = {}
        if previous is not None:
            self._reuse(previous)

    def _reuse(self, old: "Book") -> None:
        """Keep what an earlier Book of the same window built for the areas whose items did not change, so a
        commune's change costs that commune's work, not the province's."""
        if (old.w0, old.w1) != (self.w0, self.w1) or old.packages != self.packages or old.parent != self.parent \
                or old.durations != self.durations:
            return
        changed = {a for a in set(self.by_area) | set(old.by_area) if self.by_area.get(a) != old.by_area.get(a)}
        rows = {r.id for a, rows_ in self.by_area.items() if a not in changed for r in rows_}
        self._files = old._files
        self._iso = old._iso
        self._plays = {k: v for k, v in old._plays.items() if k in rows}
        self._entries = {k: v for k, v in old._entries.items() if k[0] in rows}
        self._applicable = {k: v for k, v in old._applicable.items() if k[0] in rows}
        self._programmes = {k: v for k, v in old._programmes.items() if changed.isdisjoint(self.chain(k[0]))}

    def chain(self, area_id: int | None) -> list[int]:
        out = []
        while area_id is not None and area_id not in out:
            out.append(area_id)
            area_id = self.parent.get(area_id)
        return out

    def duration(self, row) -> float:
        return float(row.duration_s) if row.relay_url else self.durations.get(row.work_id, 0.0)

    def rows(self, area_id: int | None, zone: str = "") -> list:
        """The playing items an endpoint of this area and zone takes."""
        return [row for a in self.chain(area_id) for row in self.by_area.get(a, ()) if row.zone in ("", zone or "")]

    def item_plays(self, row) -> list[Occurrence]:
        hit = self._plays.get(row.id)
        if hit is None:
            hit = self._plays[row.id] = plays(row, self.duration(row), self.w0, self.w1)
        return hit

    def item_times(self, row) -> "np.ndarray":
        """An item's plays as seconds since 1970 (int64), in `item_plays` order, without making them: the
        times of a rule are converted once for every item that shares it (the as-run's millions)."""
        hit = self._times.get(row.id)
        if hit is None:
            ts = starts(row.start_at, row.rrule or "", self.w0, self.w1)
            base = self._rule_times.get(id(ts))
            if base is None or base[0] is not ts:
                base = (ts, np.array(ts, dtype="datetime64[s]").astype(np.int64))
                self._rule_times[id(ts)] = base
            step = int(max(0.0, self.duration(row)) + max(0, row.replay_gap_s))  # as plays(): whole seconds
            k = np.arange(1 + max(0, row.replays), dtype=np.int64)
            hit = self._times[row.id] = (base[1][:, None] + step * k[None, :]).ravel()
        return hit

    def _valid(self, row, files: dict[int, list[dict]]) -> "np.ndarray":
        """Per play in `item_times` order: its work's package is published, has files this audience takes
        and is valid at that time."""
        times = self.item_times(row)
        package = self.packages.get(row.work_id) if row.work_id else None
        if package is None or not files.get(row.work_id):
            return np.zeros(len(times), dtype=bool)
        keep = np.ones(len(times), dtype=bool)
        if package.valid_from is not None:
            keep &= times >= int(np.datetime64(package.valid_from, "s").astype(np.int64))
        if package.valid_until is not None:
            keep &= times < int(np.datetime64(package.valid_until, "s").astype(np.int64))
        return keep

    def item_mask(self, row, files_key: tuple, files: dict[int, list[dict]]) -> "np.ndarray":
        """Which of `item_times` an endpoint of this audience plays: a work's while valid, a relay's always."""
        return np.ones(len(self.item_times(row)), dtype=bool) if row.relay_url else self._valid(row, files)

    def files(self, session: Session, kind: str, display: str = "", languages=()) -> dict[int, list[dict]]:
        """Per scheduled work, the files of its published package this audience takes (one query)."""
        key = (kind, display or "", tuple(languages or ()))
        hit = self._files.get(key)
        if hit is None:
            hit = defaultdict(list)
            by_package = {p.id: w for w, p in self.packages.items()}
            if by_package:
                for package_id, entry in session.execute(
                        select(PackageFile.package_id, PackageFile.entry)
                        .where(PackageFile.package_id.in_(list(by_package)),
                               *audience.file_fits(kind, display, languages)).order_by(PackageFile.position)):
                    hit[by_package[package_id]].append(entry)
            self._files[key] = hit
        return hit

    def _iso_of(self, at: datetime) -> str:
        s = self._iso.get(at)
        if s is None:
            s = self._iso[at] = clock.iso(at)
        return s

    def item_applicable(self, row, files_key: tuple, files: dict[int, list[dict]]) -> list[tuple]:
        """An item's plays an endpoint of this audience plays, as (occurrence, package or None): a work's only
        while its package is valid and has files that fit; a relay's always (its fallback where valid)."""
        key = (row.id, files_key)
        hit = self._applicable.get(key)
        if hit is None:
            package = self.packages.get(row.work_id) if row.work_id else None
            hit = self._applicable[key] = [(o, package if valid else None) for o, valid in
                                           zip(self.item_plays(row), self._valid(row, files)) if valid or o.relay_url]
        return hit

    def item_entries(self, row, files_key: tuple, files: dict[int, list[dict]]) -> tuple[list[tuple], str]:
        """The same plays as (occurrence, package, feed entry), with their hash."""
        key = (row.id, files_key)
        hit = self._entries.get(key)
        if hit is None:
            out, h = [], hashlib.sha256()
            these = files.get(row.work_id, []) if row.work_id else []
            all_shas = ",".join(f["sha256"] for f in these)
            for o, package in self.item_applicable(row, files_key, files):
                valid = package is not None
                shas = all_shas if valid else ""
                entry = {"at": self._iso_of(o.at), "item_id": o.item_id, "play": o.play, "priority": o.priority,
                         "interrupt": o.priority == "emergency", "duration_s": round(o.duration_s, 3),
                         "work_id": o.work_id if valid else None, "package_id": package.id if valid else None,
                         "files": these if valid else []}
                if o.relay_url:
                    entry["relay"] = {"url": o.relay_url, "title": o.title}
                out.append((o, package, entry))
                h.update(f"|{o.at:%Y%m%d%H%M%S}:{o.play}:{shas}".encode())
            hit = self._entries[key] = (out, f"{row.id}:{h.hexdigest()[:16]}")
        return hit

    def _merged(self, session: Session, area_id, zone, kind, display, languages) -> tuple[list[tuple], str]:
        files_key = (kind, display or "", tuple(languages or ()))
        files = self.files(session, kind, display, languages)
        parts = [self.item_entries(r, files_key, files) for r in self.rows(area_id, zone)]
        merged = list(heapq.merge(*(p[0] for p in parts), key=lambda t: t[0]))
        digest = hashlib.sha256("|".join(sorted(p[1] for p in parts)).encode()).hexdigest()[:32]
        return merged, digest

    def applicable(self, session: Session, area_id: int | None, zone: str, kind: str, display: str = "",
                   languages=()) -> list[tuple[Occurrence, tuple | None]]:
        """The occurrences an endpoint of this audience plays, in playing order, each with its work's package
        row (None for a relay without a valid fallback)."""
        files_key = (kind, display or "", tuple(languages or ()))
        files = self.files(session, kind, display, languages)
        return list(heapq.merge(*(self.item_applicable(r, files_key, files) for r in self.rows(area_id, zone)),
                                key=lambda t: t[0]))

    def programme(self, session: Session, area_id: int | None, zone: str, kind: str, display: str = "",
                  languages=()) -> tuple[str, list[dict]]:
        """(hash, occurrences as the feed gives them, without URLs) for an endpoint of this audience."""
        key = (area_id, zone or "", kind, display or "", tuple(languages or ()))
        hit = self._programmes.get(key)
        if hit is None:
            merged, digest = self._merged(session, area_id, zone, kind, display, languages)
            hit = self._programmes[key] = (digest, [e for _o, _p, e in merged])
        return hit


def area_week(session: Session, area: Area, zone: str | None, w0: datetime, w1: datetime) -> list[dict]:
    """An area's occurrences in [w0, w1) for the programme page and API, each marked `clash` where it
    overlaps another that is not an emergency (an emergency interrupts; it does not clash). `zone` None: the
    whole commune's and every zone's items; a zone: the commune's and that zone's."""
    chain = [area.id, *(a.id for a in area.ancestors())]
    where = [ProgrammeItem.area_id.in_(chain)]
    if zone is not None:
        where.append(ProgrammeItem.zone.in_(("", zone)))
    book = Book(session, w0, w1, where=where)
    zones = {r.id: r.zone for rows in book.by_area.values() for r in rows}
    occ = sorted(o for a in chain for row in book.by_area.get(a, ()) for o in book.item_plays(row))
    out = [{"at": clock.iso(o.at), "item_id": o.item_id, "play": o.play, "priority": o.priority,
            "work_id": o.work_id, "title": o.title, "duration_s": round(o.duration_s, 3), "zone": zones[o.item_id],
            "clash": False} for o in occ]
    sounding: list[tuple[datetime, int]] = []  # (end, index) of the plays not yet over
    for i, o in enumerate(occ):
        sounding = [(end, j) for end, j in sounding if end > o.at]
        if o.priority == "emergency":
            continue
        mine = zones[o.item_id]
        for _end, j in sounding:
            theirs = zones[occ[j].item_id]
            if "" in (mine, theirs) or mine == theirs:  # the same loudspeakers
                out[i]["clash"] = out[j]["clash"] = True
        sounding.append((o.at + timedelta(seconds=max(o.duration_s, 1.0)), i))
    return out


def items_for(session: Session, area: Area, zone: str | None = None) -> list[ProgrammeItem]:
    """The playing items of an area (with the areas above it) for one zone ("": the whole commune's only)
    or, with None, for every zone; in start order."""
    query = select(ProgrammeItem).where(ProgrammeItem.state.in_(PLAYING_STATES),
                                        ProgrammeItem.area_id.in_([area.id, *(a.id for a in area.ancestors())]))
    if zone is not None:
        query = query.where(ProgrammeItem.zone.in_(("", zone)))
    return list(session.scalars(query.order_by(ProgrammeItem.start_at, ProgrammeItem.id)))


def area_calendar(session: Session, area: Area) -> bytes:
    """An area's programme (every zone) as a calendar, for its staff."""
    return calendar(session, items_for(session, area), area.name)


def calendar(session: Session, items: list[ProgrammeItem], name: str) -> bytes:
    """The items as an RFC 5545 calendar (the `icalendar` library): one VEVENT per item, its start with the
    studio's TZID, its RRULE where it repeats, and a UID `work-<work id>-<item id>@studio` (a relay without a
    fallback work: `relay-<item id>@studio`). Replays are written in the description."""
    from icalendar import Calendar, Event, vRecur
    cal = Calendar()
    cal.add("prodid", "-//Studio//Programme//VI")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", clock.zone().key)
    durations = work_durations(session, {i.work_id for i in items if i.work_id})
    stamp = datetime.now(timezone.utc).replace(microsecond=0)
    for item in items:
        seconds = item.duration_s if item.relay_url else durations.get(item.work_id, 0.0)
        ev = Event()
        ev.add("uid", f"work-{item.work_id}-{item.id}@studio" if item.work_id else f"relay-{item.id}@studio")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", clock.local(item.start_at))
        ev.add("duration", timedelta(seconds=max(1, round(seconds))))
        ev.add("summary", item.title or f"#{item.work_id}")
        ev.add("categories", [item.priority])
        if item.rrule:
            ev.add("rrule", vRecur.from_ical(item.rrule))
        notes = [f"priority: {item.priority}", f"zone: {item.zone}" if item.zone else ""]
        if item.replays:
            notes.append(f"replays: {item.replays}, {item.replay_gap_s} s apart")
        if item.relay_url:
            ev.add("url", item.relay_url)
        ev.add("description", "; ".join(n for n in notes if n))
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()
