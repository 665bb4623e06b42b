"""Polled CAP sources (STUDIO_CAP_SOURCES): CAP documents or CAP-in-Atom feeds read by a job.

One `cap_poll` job at a time polls every source that is due, with the validators it gave last time (ETag,
Last-Modified: an unchanged source answers 304 and costs nothing), takes each new alert in as the CAP gateway
(cap_in.receive; a duplicate is simply already here), and queues the next poll for when the next source is due.
A source that fails (unreachable, an HTTP error, not CAP) waits twice as long after each failure in a row, up
to an hour; the network page shows each source's state. Atom entries already read are remembered by id and
update time, so a linked document is fetched once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline import cap
from storage.models import CapSource, Job, utcnow
from studio import jobs
from studio.errors import Conflict, StudioError
from studio.services import Caller, cap_in

log = logging.getLogger(__name__)
BACKOFF_MAX_S = 3600
TIMEOUT_S = 10
SEEN_KEPT = 500
SOURCE_ERRORS = ("unreachable", "invalid")


@dataclass(frozen=True)
class Settings:
    """The sources, how often to poll them, and the channels their alerts are made for."""

    urls: tuple[str, ...] = ()
    interval_s: int = 60
    channels: tuple[str, ...] = field(default=("loudspeaker", "web"))


def sources(session: Session, urls: tuple[str, ...] | list[str]) -> list[CapSource]:
    """The configured sources' rows (made for new URLs; a URL no longer configured is dropped), by URL."""
    rows = {s.url: s for s in session.scalars(select(CapSource))}
    for url, row in list(rows.items()):
        if url not in urls:
            session.delete(row)
            del rows[url]
    for url in urls:
        if url not in rows:
            rows[url] = CapSource(url=url, seen=[], failures=0, alerts=0, etag="", last_modified="", error="",
                                  error_code="")
            session.add(rows[url])
    session.flush()
    return [rows[u] for u in urls]


def listed(session: Session) -> list[CapSource]:
    """The polled sources and their state (the network page), failing ones first."""
    return list(session.scalars(select(CapSource).order_by(CapSource.failures.desc(), CapSource.url)))


def ensure_polling(session: Session, settings: Settings) -> Job | None:
    """Queue the poll job unless one is queued or running (at start, and after each poll)."""
    rows = sources(session, settings.urls)
    if not rows:
        return None
    pending = session.scalar(select(Job).where(Job.kind == "cap_poll", Job.state.in_(("queued", "running",
                                                                                      "waiting"))).limit(1))
    if pending is not None:
        return pending
    due = min((r.next_poll_at for r in rows if r.next_poll_at), default=None)
    return jobs.create(session, "cap_poll", priority="emergency", max_attempts=2,
                       run_after=due if due and due > utcnow() else None, msg="CAP sources to poll")


def _failed(row: CapSource, settings: Settings, code: str, error: str) -> None:
    row.failures += 1
    row.error_code, row.error = code, error[:500]
    wait = min(BACKOFF_MAX_S, settings.interval_s * 2 ** row.failures)
    row.next_poll_at = utcnow() + timedelta(seconds=wait)
    log.warning("CAP source %s failed (%s, %s in a row): next poll in %s s", row.url, code, row.failures, wait)


def _take(session: Session, row: CapSource, data: bytes, settings: Settings) -> None:
    """Take one document in, in a savepoint: a duplicate or a refused alert leaves the others."""
    gateway = Caller(cap_in.system_user(session), "cap-poll")
    try:
        with session.begin_nested():
            cap_in.receive(session, gateway, data, list(settings.channels), origin=row.url)
        row.alerts += 1
    except Conflict:
        pass  # already here (the same alert from another source, or the API)
    except StudioError as exc:
        row.error_code, row.error = exc.code, (exc.message % exc.params)[:500]


def _fetch(url: str, headers: dict | None = None) -> requests.Response:
    resp = requests.get(url, headers=headers or {}, timeout=TIMEOUT_S, stream=True)
    resp.raw.decode_content = True
    body = resp.raw.read(cap.MAX_BYTES + 1)
    resp._content = body  # at most 1 MiB read, whatever the server sends
    return resp


def poll(session: Session, row: CapSource, settings: Settings) -> None:
    """Poll one source now."""
    row.last_poll_at = utcnow()
    headers = {k: v for k, v in (("If-None-Match", row.etag), ("If-Modified-Since", row.last_modified)) if v}
    try:
        resp = _fetch(row.url, headers)
    except requests.RequestException as exc:
        return _failed(row, settings, "unreachable", f"{type(exc).__name__}: {exc}")
    if resp.status_code == 304:
        return _ok(row, settings, resp)
    if resp.status_code != 200:
        return _failed(row, settings, f"http_{resp.status_code}", f"HTTP {resp.status_code}")
    try:
        root = cap.parse_xml(resp.content)
        if root.tag == "{%s}alert" % cap.NS:
            _take(session, row, resp.content, settings)
        else:
            _entries(session, row, resp.content, settings)
    except cap.CapInvalid as exc:
        return _failed(row, settings, "invalid", str(exc))
    _ok(row, settings, resp)


def _entries(session: Session, row: CapSource, feed: bytes, settings: Settings) -> None:
    seen = list(row.seen or [])
    for ident, updated, inline, link in cap.atom_alerts(feed):
        mark = f"{ident} {updated}"
        if mark in seen:
            continue
        if inline is not None:
            _take(session, row, cap.to_bytes(inline), settings)
        elif link:
            try:
                doc = _fetch(link)
            except requests.RequestException as exc:
                row.error_code, row.error = "unreachable", f"{link}: {type(exc).__name__}"
                continue  # not marked: tried again next time
            if doc.status_code != 200:
                row.error_code, row.error = f"http_{doc.status_code}", f"{link}: HTTP {doc.status_code}"
                continue
            _take(session, row, doc.content, settings)
        seen.append(mark)
    row.seen = seen[-SEEN_KEPT:]


def _ok(row: CapSource, settings: Settings, resp: requests.Response) -> None:
    row.failures, row.last_ok_at = 0, utcnow()
    if resp.status_code == 200:
        row.etag = resp.headers.get("ETag", "")[:200]
        row.last_modified = resp.headers.get("Last-Modified", "")[:100]
    if row.error_code in SOURCE_ERRORS or row.error_code.startswith("http_"):
        row.error_code, row.error = "", ""  # the source answers again (a refused alert's reason stays)
    row.next_poll_at = utcnow() + timedelta(seconds=settings.interval_s)


def poll_due(session: Session, settings: Settings) -> int:
    """Poll every source that is due; returns how many were polled."""
    now, n = utcnow(), 0
    for row in sources(session, settings.urls):
        if row.next_poll_at is None or row.next_poll_at <= now:
            poll(session, row, settings)
            session.commit()
            n += 1
    return n


@jobs.handler("cap_poll", needs=("cap_sources",), timeout=lambda _s, _j: 300)
def run_poll(ctx: jobs.Context, cap_sources: Settings) -> None:
    """The poll job: the due sources, then the next poll queued."""
    try:
        n = poll_due(ctx.session, cap_sources)
    finally:  # whatever happened, the sources are polled again
        due = min((r.next_poll_at for r in sources(ctx.session, cap_sources.urls) if r.next_poll_at), default=None)
        jobs.create(ctx.session, "cap_poll", priority="emergency", max_attempts=2,
                    run_after=due or utcnow() + timedelta(seconds=cap_sources.interval_s), msg="CAP sources to poll")
    ctx.progress(99, f"{n} CAP sources polled")
