"""Which commune sites a change touches (studio/web/site_export.py rebuilds them): a package's areas and every
area below them; items that ended or (scheduled) started since the last look; and when to look next."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.models import Area, Counter, Job, Package, utcnow
from studio import jobs
from studio.services import areas

EXPIRY_COUNTER = "sites_expiry"


def affected(session: Session, codes: list[str]) -> list[str]:
    """The sites a package sent to these areas appears on: theirs and every area's below (all, for none)."""
    if not codes:
        return list(session.scalars(select(Area.code).order_by(Area.code)))
    ids = [a for a in session.scalars(select(Area.id).where(Area.code.in_(codes)))]
    below = areas.below(session, *ids) if ids else set()
    return list(session.scalars(select(Area.code).where(Area.id.in_(below)).order_by(Area.code)))


def _changed_since(session: Session, since: datetime, now: datetime) -> list[str]:
    codes: set[str] = set()
    for p in session.scalars(select(Package).where(Package.state == "published", or_(
            (Package.valid_until > since) & (Package.valid_until <= now),
            (Package.valid_from > since) & (Package.valid_from <= now)))):
        codes.update(affected(session, list(p.area_codes or [])))
    return sorted(codes)


def queue_expiry(session: Session) -> Job | None:
    """Queue the rebuild for the next moment a live package ends or a scheduled one starts (unless one is
    queued)."""
    now = utcnow()
    live = Package.state == "published"
    ends = session.scalar(select(Package.valid_until).where(live, Package.valid_until > now)
                          .order_by(Package.valid_until).limit(1))
    starts = session.scalar(select(Package.valid_from).where(live, Package.valid_from > now)
                            .order_by(Package.valid_from).limit(1))
    nxt = min((t for t in (ends, starts) if t is not None), default=None)
    if nxt is None:
        return None
    at = nxt + timedelta(seconds=1)
    queued = session.scalar(select(Job).where(Job.kind == "sites", Job.work_id.is_(None), Job.profile == "",
                                              Job.state == "queued").order_by(Job.run_after).limit(1))
    if queued is not None:
        if queued.run_after is not None and queued.run_after > at:  # a publish brought an earlier moment
            queued.run_after = at
        return queued
    return jobs.create(session, "sites", max_attempts=3, run_after=at,
                       msg="sites to rebuild when an item ends or starts")


def package_codes(session: Session, work_id: int) -> list[str]:
    """The areas of every package of a work that readers saw or see (its sites change with it)."""
    codes: set[str] = set()
    everywhere = False
    for p in session.scalars(select(Package).where(Package.work_id == work_id, Package.state.in_(
            ("published", "superseded", "retracted")))):
        everywhere = everywhere or not p.area_codes
        codes.update(p.area_codes or [])
    return [] if everywhere else sorted(codes)


def expired(session: Session) -> list[str]:
    """The sites of the packages that ended or started since the last call (the first call looks a day back)."""
    now = utcnow()
    row = session.get(Counter, EXPIRY_COUNTER)
    if row is None:
        row = Counter(name=EXPIRY_COUNTER, value=int(now.timestamp()) - 86400)
        session.add(row)
    codes = _changed_since(session, datetime.fromtimestamp(row.value, timezone.utc).replace(tzinfo=None), now)
    row.value = int(now.timestamp())
    return codes
