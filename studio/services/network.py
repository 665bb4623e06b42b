"""The endpoint network at a glance: which endpoints are online, what each holds against what it should hold,
its free space and last plays, and an endpoint's history day by day.

An endpoint is online when it reported (heartbeat or play) within `offline_after`; offline when it did before;
"never" before its first contact; revoked when its token was revoked.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Endpoint, EndpointReport
from studio.services import areas, feeds, report

STATES = ("online", "offline", "never", "revoked")


def state(ep: Endpoint, now: datetime, offline_after: timedelta) -> str:
    """online | offline | never | revoked."""
    if not ep.active:
        return "revoked"
    if ep.last_seen_at is None:
        return "never"
    return "online" if now - ep.last_seen_at <= offline_after else "offline"


def overview(session: Session, now: datetime, offline_after: timedelta, area_id: int | None = None,
             kind: str | None = None) -> list[dict]:
    """Every endpoint (in an area and below it, of a kind) with its state and what the page shows."""
    query = select(Endpoint).order_by(Endpoint.name)
    if area_id:
        query = query.where(Endpoint.area_id.in_(areas.below(session, area_id)))
    if kind:
        query = query.where(Endpoint.kind == kind)
    eps = list(session.scalars(query))
    day_ago = now - timedelta(days=1)
    last_play = dict(session.execute(select(EndpointReport.endpoint_id, func.max(EndpointReport.started_at))
                                     .where(EndpointReport.type == "play").group_by(EndpointReport.endpoint_id)).all())
    plays_day = dict(session.execute(select(EndpointReport.endpoint_id, func.count())
                                     .where(EndpointReport.type == "play", EndpointReport.started_at >= day_ago)
                                     .group_by(EndpointReport.endpoint_id)).all())
    should_cache: dict[tuple, list[int]] = {}  # endpoints of one kind, area, display and languages share a feed
    rows = []
    for ep in eps:
        st = state(ep, now, offline_after)
        key = (ep.kind, ep.area_id, ep.display, tuple(ep.languages or ()))
        if key not in should_cache:
            should_cache[key] = [p.id for p, _ in feeds.feed_query(session, ep.kind, ep.area, ep.display,
                                                                         ep.languages)]
        should = should_cache[key]
        holds = (ep.last_heartbeat or {}).get("holds") or []
        rows.append({"endpoint": ep, "state": st, "last_seen": ep.last_seen_at,
                     "offline_for": now - ep.last_seen_at if st == "offline" else None,
                     "free_bytes": (ep.last_heartbeat or {}).get("free_bytes"),
                     "should": len(should), "holds": len(holds),
                     "missing": len([p for p in should if p not in holds]),
                     "last_play": last_play.get(ep.id), "plays_24h": plays_day.get(ep.id, 0)})
    return rows


def offline_count(session: Session, now: datetime, offline_after: timedelta) -> int:
    """Active endpoints that have been heard from but not within `offline_after` (for the badge)."""
    return session.scalar(select(func.count()).select_from(Endpoint).where(
        Endpoint.active.is_(True), Endpoint.last_seen_at.is_not(None),
        Endpoint.last_seen_at < now - offline_after)) or 0


def history(session: Session, endpoint_id: int, now: datetime, days: int = 30) -> list[dict]:
    """Per local day over the last `days`: reports received, plays, and failed plays."""
    since = now - timedelta(days=days)
    day = report.local_bucket(session, EndpointReport.received_at, "day")
    rows = session.execute(select(day, EndpointReport.type, EndpointReport.outcome, func.count())
                           .where(EndpointReport.endpoint_id == endpoint_id, EndpointReport.received_at >= since)
                           .group_by(day, EndpointReport.type, EndpointReport.outcome)).all()
    out: dict[str, dict] = {}
    for d, kind, outcome, n in rows:
        entry = out.setdefault(d, {"day": d, "reports": 0, "plays": 0, "failed": 0})
        entry["reports"] += n
        if kind == "play":
            entry["plays"] += n
            entry["failed"] += n if outcome in ("failed", "rejected") else 0
    return [out[d] for d in sorted(out, reverse=True)]
