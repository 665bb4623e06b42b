"""The commune's programme (lịch phát), as Circular 39/2020 sets its three levels, and who may change it.

- Editors and approvers schedule a published work for areas (`schedule_work`): each commune under the named
  areas gets a `ProgrammeItem` (an area with no communes gets one itself). A **normal** work is *offered*:
  the commune's operators accept it, at the offered time or at one of their own and with their own
  recurrence, or decline it with a reason. A **priority** work is scheduled at once; the operators set the
  order of the items sharing a slot. An **emergency** is scheduled at once, from now unless a start is given,
  and interrupts whatever plays.
- Operators (role `operator`) act only on the areas they are bound to and the areas under them: their
  offers, their own items (a published work or a live relay with a stored fallback), the order within a slot,
  and moving the items they accepted or added.
- Every change moves the programme generation on (feeds.bump(session, "programme")), so the endpoints' feeds
  and long polls see it without the packages being queried again.

How items become occurrences (recurrence, replays, slots, the feed's programme, calendars) is in
studio/services/occurrences.py.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline.text.unicode import nfc
from storage.models import Area, Endpoint, Package, ProgrammeItem, Schedule, Work, utcnow
from studio.errors import N_, NotFound, PermissionDenied, ValidationError
from studio.services import Caller, areas, audit, clock, feeds, occurrences
from studio.services.accounts import require_role

SCHEDULERS = ("editor", "approver")
MAX_REPLAYS = 20
MAX_GAP_S = 24 * 3600
MAX_RELAY_S = 12 * 3600
ANSWER_DAYS = 14  # a new schedule answers with its occurrences over the next 14 days


# ---- who may act where ---------------------------------------------------------------------------------

def scope(session: Session, caller: Caller) -> set[int] | None:
    """The area ids the caller's programme actions reach: None for everywhere (admins, and province staff
    bound to no area), else their areas and every area under them."""
    user = caller.user
    if user is None:
        return set()
    if "admin" in user.role_set:
        return None
    if user.areas:
        return areas.below(session, *(a.id for a in user.areas))
    return set() if user.role_set <= {"operator"} else None


def _require_operator(session: Session, caller: Caller, area_id: int) -> None:
    require_role(caller, "operator")
    reach = scope(session, caller)
    if reach is not None and area_id not in reach:
        raise PermissionDenied(N_("This commune is not one of your areas."))


def _item(session: Session, item_id: int) -> ProgrammeItem:
    item = session.get(ProgrammeItem, item_id)
    if item is None:
        raise NotFound(N_("No such programme item."))
    return item


# ---- checked values ------------------------------------------------------------------------------------

def _start(value, field: str = "start"):
    if value in (None, ""):
        raise ValidationError(N_("Give the start time (ISO 8601 with its offset)."), field=field)
    return clock.to_utc(value, field).replace(microsecond=0)


def _count(data: dict, name: str, top: int) -> int:
    value = data.get(name, 0) or 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise ValidationError(N_("%(name)s must be a whole number from 0 to %(max)s."), field=name, name=name,
                              max=top)
    return value


def _published(session: Session, work_id: int) -> Work:
    work = session.get(Work, work_id)
    if work is None:
        raise NotFound(N_("No such work."))
    live = session.scalar(select(Package.id).where(Package.work_id == work_id, Package.state == "published"))
    if work.state != "published" or live is None:
        raise ValidationError(N_("Only a published work can be scheduled."), field="work_id")
    return work


def _zone(session: Session, zone, communes: list[Area]) -> str:
    zone = nfc(zone or "").strip()
    if not zone:
        return ""
    if len(communes) != 1 or communes[0].level != "commune":
        raise ValidationError(N_("A zone belongs to one commune: name that commune alone."), field="zone")
    known = session.scalar(select(Endpoint.id).where(Endpoint.area_id == communes[0].id, Endpoint.zone == zone))
    if known is None:
        raise ValidationError(N_("No endpoint of %(commune)s is in the zone %(zone)s."), field="zone",
                              commune=communes[0].name, zone=zone)
    return zone


def communes_of(session: Session, codes) -> list[Area]:
    """The communes under the named areas (an area with no communes stands for itself), each once."""
    if not isinstance(codes, list) or not codes:
        raise ValidationError(N_("Name at least one area by its code."), field="area_codes")
    named = [areas.named(session, c, "area_codes") for c in codes]
    ids = areas.below(session, *(a.id for a in named))
    found = {a.id: a for a in session.scalars(select(Area).where(Area.id.in_(ids), Area.level == "commune"))}
    for a in named:
        if not any(c in found for c in areas.below(session, a.id)):
            found[a.id] = a
    return sorted(found.values(), key=lambda a: a.code)


# ---- the province's schedules --------------------------------------------------------------------------

def schedule_work(session: Session, caller: Caller, work_id: int, data: dict) -> Schedule:
    """Schedule a published work for areas: offered to each commune (normal) or in its programme at once
    (priority, emergency). `data`: area_codes, zone?, start, rrule?, replays?, replay_gap_s?"""
    require_role(caller, *SCHEDULERS)
    work = _published(session, work_id)
    communes = communes_of(session, data.get("area_codes"))
    zone = _zone(session, data.get("zone"), communes)
    emergency = work.priority == "emergency"
    start = _start(data.get("start")) if data.get("start") or not emergency else utcnow().replace(microsecond=0)
    rule = occurrences.check_rule(data.get("rrule"), start)
    asked = sorted({str(c).strip() for c in data["area_codes"]})  # as named; the items hold the communes
    sched = Schedule(work_id=work.id, area_codes=asked, zone=zone, start_at=start, rrule=rule,
                     replays=_count(data, "replays", MAX_REPLAYS), replay_gap_s=_count(data, "replay_gap_s", MAX_GAP_S),
                     priority=work.priority, created_by_id=caller.user.id)
    session.add(sched)
    session.flush()
    state = "offered" if work.priority == "normal" else "scheduled"
    session.add_all([ProgrammeItem(schedule_id=sched.id, work_id=work.id, area_id=a.id, zone=zone,
                                   origin="province", priority=work.priority, state=state, start_at=start, rrule=rule,
                                   replays=sched.replays, replay_gap_s=sched.replay_gap_s, title=work.title,
                                   created_by_id=caller.user.id) for a in communes])
    session.flush()
    audit.record(session, caller, "schedule.create", "schedule", sched.id, work_id=work.id,
                 area_codes=data.get("area_codes"), zone=zone, start=clock.iso(start), rrule=rule,
                 priority=work.priority)
    feeds.bump(session, "programme")
    return sched


def cancel_schedule(session: Session, caller: Caller, schedule_id: int) -> Schedule:
    """Take a schedule out of every commune's programme (its items, offered or not, are cancelled)."""
    require_role(caller, *SCHEDULERS)
    sched = session.get(Schedule, schedule_id)
    if sched is None:
        raise NotFound(N_("No such schedule."))
    for item in session.scalars(select(ProgrammeItem).where(ProgrammeItem.schedule_id == sched.id)):
        item.state = "cancelled"
    audit.record(session, caller, "schedule.cancel", "schedule", sched.id, work_id=sched.work_id)
    feeds.bump(session, "programme")
    return sched


def cancel_for_work(session: Session, work_id: int) -> int:
    """A retracted work leaves every programme; returns how many items it had."""
    items = list(session.scalars(select(ProgrammeItem).where(ProgrammeItem.work_id == work_id,
                                                             ProgrammeItem.state != "cancelled")))
    for item in items:
        item.state = "cancelled"
    return len(items)


def area_items(session: Session, area: Area) -> list[ProgrammeItem]:
    """The items of an area and the areas above it, but cancelled ones, by start."""
    chain = [area.id, *(a.id for a in area.ancestors())]
    return list(session.scalars(select(ProgrammeItem).where(ProgrammeItem.area_id.in_(chain),
                                                            ProgrammeItem.state != "cancelled")
                                .order_by(ProgrammeItem.start_at, ProgrammeItem.position, ProgrammeItem.id)))


def schedule_items(session: Session, schedule_id: int) -> list[ProgrammeItem]:
    return list(session.scalars(select(ProgrammeItem).where(ProgrammeItem.schedule_id == schedule_id)
                                .order_by(ProgrammeItem.id)))


# ---- the commune's operators ---------------------------------------------------------------------------

def offers(session: Session, caller: Caller, state: str | None = None) -> list[ProgrammeItem]:
    """The offers (the province's normal items) in the caller's areas, newest first; optionally one state."""
    require_role(caller, "operator", *SCHEDULERS)
    query = select(ProgrammeItem).where(ProgrammeItem.origin == "province", ProgrammeItem.priority == "normal")
    reach = scope(session, caller)
    if reach is not None:
        query = query.where(ProgrammeItem.area_id.in_(reach))
    if state:
        query = query.where(ProgrammeItem.state == state)
    return list(session.scalars(query.order_by(ProgrammeItem.start_at.desc(), ProgrammeItem.id.desc())))


def _offer(session: Session, caller: Caller, item_id: int) -> ProgrammeItem:
    item = _item(session, item_id)
    if item.origin != "province" or item.priority != "normal":
        raise NotFound(N_("No such offer."))
    _require_operator(session, caller, item.area_id)
    if item.state not in ("offered", "accepted", "declined"):
        raise ValidationError(N_("This offer was withdrawn."), field="state")
    return item


def accept(session: Session, caller: Caller, item_id: int, data: dict | None = None) -> ProgrammeItem:
    """Put an offer in the commune's programme, at the offered time or at `start` and with `rrule`."""
    item = _offer(session, caller, item_id)
    data = data or {}
    if data.get("start"):
        item.start_at = _start(data["start"])
    if "rrule" in data:
        item.rrule = occurrences.check_rule(data.get("rrule"), item.start_at)
    item.state, item.reason = "accepted", ""
    item.decided_by_id, item.decided_at = caller.user.id, utcnow()
    audit.record(session, caller, "offer.accept", "programme_item", item.id, work_id=item.work_id,
                 start=clock.iso(item.start_at), rrule=item.rrule)
    feeds.bump(session, "programme")
    return item


def decline(session: Session, caller: Caller, item_id: int, reason: str) -> ProgrammeItem:
    """Leave an offer out of the commune's programme, saying why."""
    item = _offer(session, caller, item_id)
    reason = nfc(reason or "").strip()
    if not reason:
        raise ValidationError(N_("Say why the commune declines it."), field="reason")
    item.state, item.reason = "declined", reason[:300]
    item.decided_by_id, item.decided_at = caller.user.id, utcnow()
    audit.record(session, caller, "offer.decline", "programme_item", item.id, work_id=item.work_id, reason=item.reason)
    feeds.bump(session, "programme")
    return item


def add_own(session: Session, caller: Caller, data: dict) -> ProgrammeItem:
    """The commune's own item: a published work or a live relay (`relay_url`, `duration_s`, and optionally a
    fallback `work_id` played when the stream fails), normal or priority."""
    area = areas.named(session, data.get("area_code"), "area_code")
    if area is None:
        raise ValidationError(N_("Name the commune by its code."), field="area_code")
    _require_operator(session, caller, area.id)
    priority = data.get("priority") or "normal"
    if priority not in ("normal", "priority"):
        raise ValidationError(N_("A commune's own item is normal or priority; emergencies come from the "
                                 "province."), field="priority")
    relay = (data.get("relay_url") or "").strip()
    work_id = data.get("work_id")
    if relay and not relay.lower().startswith(("http://", "https://")):
        raise ValidationError(N_("A relay is an http:// or https:// stream address."), field="relay_url")
    if not relay and work_id is None:
        raise ValidationError(N_("Give the work to play or a stream to relay."), field="work_id")
    work = _published(session, work_id) if work_id is not None else None
    duration = _count(data, "duration_s", MAX_RELAY_S) if relay else 0
    if relay and not duration:
        raise ValidationError(N_("Give the relay's length in seconds."), field="duration_s")
    start = _start(data.get("start"))
    title = nfc(data.get("title") or (work.title if work else "")).strip()[:300]
    if relay and not title:
        raise ValidationError(N_("Give the relay a title."), field="title")
    item = ProgrammeItem(work_id=work.id if work else None, area_id=area.id, zone=_zone(session, data.get("zone"), [area]),
                         origin="commune", priority=priority, state="scheduled", start_at=start,
                         rrule=occurrences.check_rule(data.get("rrule"), start),
                         replays=_count(data, "replays", MAX_REPLAYS), replay_gap_s=_count(data, "replay_gap_s", MAX_GAP_S),
                         relay_url=relay, duration_s=duration, title=title, created_by_id=caller.user.id)
    session.add(item)
    session.flush()
    audit.record(session, caller, "programme.add", "programme_item", item.id, work_id=item.work_id,
                 relay_url=relay or None, start=clock.iso(start), rrule=item.rrule)
    feeds.bump(session, "programme")
    return item


def change(session: Session, caller: Caller, item_id: int, data: dict) -> ProgrammeItem:
    """An operator's change to an item of their programme: `position` (the order within its slot, any item
    but an emergency), `start` and `rrule` (items they accepted or added), or `cancel` (their own items)."""
    item = _item(session, item_id)
    _require_operator(session, caller, item.area_id)
    if item.priority == "emergency" or item.state not in ("accepted", "scheduled"):
        raise ValidationError(N_("This item cannot be changed from the commune."), field="state")
    movable = item.origin == "commune" or item.state == "accepted"
    changes = {}
    if "position" in data:
        changes["position"] = item.position = _count(data, "position", 1000)
    if data.get("start") or "rrule" in data:
        if not movable:
            raise ValidationError(N_("Only the province moves its priority items; you may change their order "
                                     "in the slot."), field="start")
        if data.get("start"):
            item.start_at = _start(data["start"])
            changes["start"] = clock.iso(item.start_at)
        item.rrule = changes["rrule"] = occurrences.check_rule(data.get("rrule", item.rrule), item.start_at)
    if data.get("cancel"):
        if item.origin != "commune":
            raise ValidationError(N_("Decline an offer instead; the province's items stay."), field="cancel")
        item.state = "cancelled"
        changes["state"] = "cancelled"
    audit.record(session, caller, "programme.change", "programme_item", item.id, **changes)
    feeds.bump(session, "programme")
    return item


# ---- what the programme page lists ---------------------------------------------------------------------

def communes_in_reach(session: Session, caller: Caller) -> list[Area]:
    """The communes (and areas without communes) whose programme the caller sees, by code."""
    reach = scope(session, caller)
    query = select(Area).where(Area.level == "commune")
    if reach is not None:
        query = query.where(Area.id.in_(reach))
    return list(session.scalars(query.order_by(Area.code)))


def zones_of(session: Session, area: Area) -> list[str]:
    """The zones the area's endpoints are in."""
    return sorted(z for z in session.scalars(select(Endpoint.zone).where(Endpoint.area_id == area.id,
                                                                          Endpoint.zone != "").distinct()))


def schedulable_works(session: Session, limit: int = 200) -> list[Work]:
    """Published works, newest first: what a commune may add to its programme."""
    return list(session.scalars(select(Work).where(Work.state == "published")
                                .order_by(Work.published_at.desc(), Work.id.desc()).limit(limit)))


# ---- as JSON -------------------------------------------------------------------------------------------

def item_json(item: ProgrammeItem) -> dict:
    return {"id": item.id, "schedule_id": item.schedule_id, "work_id": item.work_id, "area_code": item.area.code,
            "zone": item.zone, "origin": item.origin, "priority": item.priority, "state": item.state,
            "start": clock.iso(item.start_at), "rrule": item.rrule or None, "replays": item.replays,
            "replay_gap_s": item.replay_gap_s, "position": item.position, "title": item.title,
            "relay_url": item.relay_url or None, "duration_s": item.duration_s or None, "reason": item.reason or None}


def schedule_json(session: Session, sched: Schedule, days: int = ANSWER_DAYS) -> dict:
    """The schedule, its items, and its plays from now over `days` days (the work's duration spaces replays)."""
    now = utcnow().replace(microsecond=0) - timedelta(minutes=1)  # an emergency scheduled now is among them
    items = schedule_items(session, sched.id)
    rule = occurrences.Rule(sched.id, sched.work_id, sched.priority, sched.start_at, sched.rrule, sched.replays,
                            sched.replay_gap_s)
    duration = occurrences.work_durations(session, [sched.work_id]).get(sched.work_id, 0.0)
    times = occurrences.plays(rule, duration, now, now + timedelta(days=days))
    states = {i.state for i in items}
    return {"id": sched.id, "work_id": sched.work_id, "area_codes": sched.area_codes, "zone": sched.zone or None,
            "start": clock.iso(sched.start_at), "rrule": sched.rrule or None, "replays": sched.replays,
            "replay_gap_s": sched.replay_gap_s, "priority": sched.priority,
            "state": states.pop() if len(states) == 1 else "mixed",
            "items": [{"id": i.id, "area_code": i.area.code, "state": i.state} for i in items],
            "occurrences": [{"at": clock.iso(o.at), "play": o.play} for o in times]}
