"""The audit log: record events, query them, export them as CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent
from studio.services import Caller


def record(session: Session, caller: Caller, action: str, target_type: str = "", target_id: object = "",
           **detail) -> AuditEvent:
    """Add one audit event to the session (committed with the change it describes)."""
    user = caller.user
    ev = AuditEvent(user_id=user.id if user else None, username=user.username if user else detail.pop("username", ""),
                    action=action, target_type=target_type, target_id=str(target_id or ""),
                    detail=detail, ip=caller.ip or "")
    session.add(ev)
    return ev


def query(session: Session, action: str = "", username: str = "", target_type: str = "", target_id: str = "",
          since: datetime | None = None, until: datetime | None = None):
    """A select() of events matching the filters, newest first."""
    q = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        q = q.where(AuditEvent.action.startswith(action))
    if username:
        q = q.where(AuditEvent.username == username)
    if target_type:
        q = q.where(AuditEvent.target_type == target_type)
    if target_id:
        q = q.where(AuditEvent.target_id == str(target_id))
    if since:
        q = q.where(AuditEvent.at >= since)
    if until:
        q = q.where(AuditEvent.at < until)
    return q


CSV_COLUMNS = ["id", "at", "username", "action", "target_type", "target_id", "ip", "detail"]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A spreadsheet cell that cannot run as a formula: text starting with = + - @ tab or CR gets a leading
    apostrophe (OWASP's advice for CSV injection); numbers and other values pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv_rows(events: Iterable[AuditEvent]) -> Iterator[str]:
    """Yield CSV text, header first, one line per event (streams; never builds the file whole)."""
    import json
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for ev in events:
        w.writerow([safe_cell(v) for v in (ev.id, ev.at.isoformat(timespec="seconds") + "Z", ev.username, ev.action,
                                           ev.target_type, ev.target_id, ev.ip,
                                           json.dumps(ev.detail, ensure_ascii=False, default=str))])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.getvalue():
        yield buf.getvalue()


def page(session: Session, filters: dict, number: int, per_page: int) -> tuple[list[AuditEvent], int]:
    """One page of the filtered audit log (see `query`) and the count of all its events."""
    q = query(session, **filters)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    return list(session.scalars(q.offset((number - 1) * per_page).limit(per_page))), total
