"""The annual report a province owes the ministry (before 25 November): what was produced, published, rendered,
broadcast and answered in a period, counted in SQL so a province's year (millions of play reports) takes seconds.

Periods are local dates (the studio's time zone), end inclusive; the database keeps UTC. Every figure comes from
the rows themselves: works and packages, renditions, endpoint reports, feedback and translations.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import case, distinct, func, literal_column, select
from sqlalchemy.orm import Session

from media_pipeline.profiles import ENDPOINT_KINDS
from storage.models import (Area, Endpoint, EndpointReport, Feedback, Package, PackageFile, Rendition,
                            Translation, Work, utcnow, work_areas)
from studio.errors import N_, ValidationError
from studio.services import asrun, clock, targets

AUDIO_ROLES = ("audio",)
VIDEO_ROLES = ("video",)


def period(year: int | None = None, start: str | None = None, end: str | None = None) -> tuple[date, date]:
    """A calendar year, or from/to dates (YYYY-MM-DD, end inclusive); ValidationError for anything else."""
    try:
        if start or end:
            first = date.fromisoformat(start) if start else date(int(year or date.today().year), 1, 1)
            last = date.fromisoformat(end) if end else date(first.year, 12, 31)
        else:
            y = int(year or date.today().year)
            first, last = date(y, 1, 1), date(y, 12, 31)
    except ValueError:
        raise ValidationError(N_("Give a year (YYYY) or dates as YYYY-MM-DD."), field="year") from None
    if last < first or (last - first).days > 366 * 5:
        raise ValidationError(N_("The period must end after it starts and last at most five years."), field="to")
    return first, last


def _utc_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    start = clock.to_utc(datetime(first.year, first.month, first.day), "from")
    stop = clock.to_utc(datetime(last.year, last.month, last.day) + timedelta(days=1), "to")
    return start, stop


def _seconds_between(session: Session, a, b):
    """SQL for b - a in seconds on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", b - a)
    return (func.julianday(b) - func.julianday(a)) * 86400.0


def local_bucket(session: Session, column, unit: str):
    """SQL for the local hour ("hour"; on SQLite only fit for counting distinct hours), day ("day") or month
    ("month") a UTC timestamp falls in, as text. The format is a
    literal, not a parameter, so PostgreSQL sees the same expression in SELECT and GROUP BY; the zone's offset
    (Vietnam keeps no daylight saving) moves UTC to local time."""
    offset = int(clock.zone().utcoffset(datetime(2026, 1, 1)).total_seconds() // 60)
    if unit == "hour" and offset % 60 == 0 and session.get_bind().dialect.name == "sqlite":
        # Counting distinct hours: a whole-hour offset changes no count, and cutting the stored text is far
        # cheaper than parsing it on millions of rows.
        return func.substr(column, 1, 13)
    if session.get_bind().dialect.name == "postgresql":
        fmt = {"hour": "YYYY-MM-DD HH24", "day": "YYYY-MM-DD", "month": "YYYY-MM"}[unit]
        return func.to_char(column + literal_column(f"interval '{offset} minutes'"), literal_column(f"'{fmt}'"))
    fmt = {"hour": "%Y-%m-%d %H", "day": "%Y-%m-%d", "month": "%Y-%m"}[unit]
    return func.strftime(literal_column(f"'{fmt}'"), column, literal_column(f"'{offset:+d} minutes'"))


def annual(session: Session, first: date, last: date, now: datetime | None = None) -> dict:
    """Every figure of the report for the period [first, last] (local dates)."""
    start, stop = _utc_bounds(first, last)
    now = now or utcnow()
    out: dict = {"year": first.year if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31)
                 and first.year == last.year else None,
                 "from": first.isoformat(), "to": last.isoformat(), "time_zone": clock.zone().key}
    out["works"] = _works(session, start, stop)
    out["publications"] = out["works"]["by_kind"].get("publication", 0)
    out["rendered"] = _rendered(session, start, stop)
    plays, endpoints = _plays_and_endpoints(session, start, min(stop, now))
    out["plays"], out["endpoints"] = plays, endpoints
    out["feedback"] = _feedback(session, start, stop)
    out["translations"] = _translations(session, start, stop)
    # The commune's programme: the share of scheduled plays that were played, by area; the plan's targets.
    by_area = asrun.share_by_area(session, start, min(stop, now), now)
    scheduled, played = sum(r["scheduled"] for r in by_area.values()), sum(r["played"] for r in by_area.values())
    out["programme"] = {"scheduled": scheduled, "played": played,
                        "share": round(played / scheduled, 4) if scheduled else None, "by_area": by_area}
    out["targets"] = targets.measure(session, first.year, start, min(stop, now))
    return out


def _works(session: Session, start: datetime, stop: datetime) -> dict:
    produced_by_kind = dict(session.execute(select(Work.kind, func.count()).where(
        Work.created_at >= start, Work.created_at < stop).group_by(Work.kind)).all())
    produced = sum(produced_by_kind.values())
    # A work counts as published in the period when a version of it was published then.
    published_ids = select(Package.work_id).where(Package.published_at >= start,
                                                  Package.published_at < stop).distinct()
    works = session.execute(select(Work.id, Work.kind, Work.channels, Work.source_language)
                            .where(Work.id.in_(published_ids))).all()
    by_kind = Counter(w.kind for w in works)
    by_channel = Counter(c for w in works for c in (w.channels or []))
    languages: dict[int, set[str]] = {w.id: {w.source_language} for w in works}
    for work_id, language in session.execute(
            select(Package.work_id, PackageFile.language).join(PackageFile, PackageFile.package_id == Package.id)
            .where(Package.published_at >= start, Package.published_at < stop).distinct()):
        languages[work_id].add(language)
    for work_id, language in session.execute(
            select(Translation.work_id, Translation.language).where(Translation.state == "approved",
                                                                     Translation.work_id.in_(published_ids))):
        languages[work_id].add(language)
    by_language = Counter(lang for langs in languages.values() for lang in langs if lang)
    by_area = Counter()
    for code, name, n in session.execute(
            select(Area.code, Area.name, func.count(distinct(work_areas.c.work_id)))
            .join(work_areas, work_areas.c.area_id == Area.id).where(work_areas.c.work_id.in_(published_ids))
            .group_by(Area.code, Area.name)):
        by_area[f"{name} ({code})"] = n
    everywhere = len(works) - (session.scalar(select(func.count(distinct(work_areas.c.work_id)))
                                              .where(work_areas.c.work_id.in_(published_ids))) or 0)
    if everywhere:
        by_area["*"] = everywhere
    month = local_bucket(session, Package.published_at, "month")
    by_month = dict(session.execute(
        select(month, func.count(distinct(Package.work_id)))
        .where(Package.published_at >= start, Package.published_at < stop).group_by(month)).all())
    return {"produced": produced, "produced_by_kind": produced_by_kind, "published": len(works),
            "by_kind": dict(by_kind),
            "by_language": dict(by_language), "by_channel": dict(by_channel), "by_area": dict(by_area),
            "by_month": by_month}


def _rendered(session: Session, start: datetime, stop: datetime) -> dict:
    """Hours of audio (files with sound) and video rendered, per language and per channel."""
    audio = defaultdict(float)
    video = defaultdict(float)
    audio_ch = defaultdict(float)
    video_ch = defaultdict(float)
    for language, channel, files, seconds in session.execute(
            select(Rendition.language, Rendition.channel, Rendition.files, Rendition.duration_s)
            .where(Rendition.created_at >= start, Rendition.created_at < stop)):
        roles = {f.get("role") for f in files or []}
        if roles & set(VIDEO_ROLES):
            video[language] += seconds / 3600
            video_ch[channel] += seconds / 3600
        elif roles & set(AUDIO_ROLES):
            audio[language] += seconds / 3600
            audio_ch[channel] += seconds / 3600

    def rounded(d: dict) -> dict:
        return {k: round(v, 2) for k, v in sorted(d.items())}
    return {"audio_hours": round(sum(audio.values()), 2), "video_hours": round(sum(video.values()), 2),
            "audio_hours_by_language": rounded(audio), "video_hours_by_language": rounded(video),
            "audio_hours_by_channel": rounded(audio_ch), "video_hours_by_channel": rounded(video_ch)}


def _plays_and_endpoints(session: Session, start: datetime, stop: datetime) -> tuple[dict, dict]:
    endpoints = {e.id: e for e in session.scalars(select(Endpoint))}
    area_names = {a.id: f"{a.name} ({a.code})" for a in session.scalars(select(Area))}
    seconds = _seconds_between(session, EndpointReport.started_at, EndpointReport.ended_at)
    rows = session.execute(
        select(EndpointReport.endpoint_id, func.count(),
               func.coalesce(func.sum(case((EndpointReport.ended_at.is_not(None), seconds), else_=0.0)), 0.0))
        .where(EndpointReport.type == "play", EndpointReport.started_at >= start, EndpointReport.started_at < stop)
        .group_by(EndpointReport.endpoint_id)).all()
    by_channel, by_area, by_endpoint = Counter(), Counter(), {}
    hours_channel, hours_area = defaultdict(float), defaultdict(float)
    total, total_s = 0, 0.0
    for endpoint_id, n, secs in rows:
        ep = endpoints.get(endpoint_id)
        kind = ENDPOINT_KINDS.get(ep.kind) if ep else None
        channel = kind.channels[0] if kind else "?"
        area = area_names.get(ep.area_id, "*") if ep else "?"
        total, total_s = total + n, total_s + float(secs or 0)
        by_channel[channel] += n
        by_area[area] += n
        hours_channel[channel] += float(secs or 0) / 3600
        hours_area[area] += float(secs or 0) / 3600
        by_endpoint[_label(ep, endpoint_id)] = {"plays": n, "hours": round(float(secs or 0) / 3600, 2)}
    plays = {"total": total, "hours": round(total_s / 3600, 2), "by_channel": dict(by_channel),
             "by_area": dict(by_area), "hours_by_channel": {k: round(v, 2) for k, v in hours_channel.items()},
             "hours_by_area": {k: round(v, 2) for k, v in hours_area.items()}, "by_endpoint": by_endpoint}
    # Uptime: the share of the hours an endpoint existed in the period in which it reported anything.
    alive = dict(session.execute(
        select(EndpointReport.endpoint_id,
               func.count(distinct(local_bucket(session, EndpointReport.received_at, "hour"))))
        .where(EndpointReport.received_at >= start, EndpointReport.received_at < stop)
        .group_by(EndpointReport.endpoint_id)).all())
    listing, by_kind, by_area_e = [], Counter(), Counter()
    for ep in endpoints.values():
        since = max(start, ep.created_at)
        hours = max(1, int((stop - since).total_seconds() // 3600)) if stop > since else 0
        uptime = round(min(1.0, alive.get(ep.id, 0) / hours), 4) if hours else None
        by_kind[ep.kind] += 1
        by_area_e[area_names.get(ep.area_id, "*")] += 1
        listing.append({"name": ep.name, "kind": ep.kind, "area": area_names.get(ep.area_id, "*"),
                        "active": ep.active, "uptime": uptime,
                        "plays": by_endpoint.get(_label(ep, ep.id), {}).get("plays", 0)})
    uptimes = [e["uptime"] for e in listing if e["uptime"] is not None]
    return plays, {"total": len(endpoints), "by_kind": dict(by_kind), "by_area": dict(by_area_e),
                   "mean_uptime": round(sum(uptimes) / len(uptimes), 4) if uptimes else None,
                   "list": sorted(listing, key=lambda e: (e["area"], e["kind"], e["name"]))}


def _label(ep: Endpoint | None, endpoint_id: int) -> str:
    """An endpoint as the report names it: communes often give several loudspeakers the same name."""
    return f"{ep.name} (#{endpoint_id})" if ep else f"#{endpoint_id}"


def _feedback(session: Session, start: datetime, stop: datetime) -> dict:
    rows = session.execute(select(Feedback.created_at, Feedback.answered_at)
                           .where(Feedback.created_at >= start, Feedback.created_at < stop)).all()
    waits = [(b - a).total_seconds() / 3600 for a, b in rows if b is not None]
    return {"received": len(rows), "answered": len(waits),
            "median_hours_to_answer": round(statistics.median(waits), 2) if waits else None}


def _translations(session: Session, start: datetime, stop: datetime) -> dict:
    """Translations approved in the period per language: by machine (any segment came from an engine) or by
    people alone."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"human": 0, "machine": 0})
    for language, segments in session.execute(
            select(Translation.language, Translation.segments).where(Translation.state == "approved",
                                                                     Translation.approved_at >= start,
                                                                     Translation.approved_at < stop)):
        machine = any(s.get("engine") for s in segments or [])
        out[language]["machine" if machine else "human"] += 1
    return dict(sorted(out.items()))
