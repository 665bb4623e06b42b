"""The studio's time zone, in one place: people type and read local time, the database keeps UTC.

- Forms and the API take a time without an offset as local time in the studio's zone (`STUDIO_TIMEZONE`,
  default Asia/Ho_Chi_Minh); a time with an offset (or Z) is taken as it says.
- The database keeps naive UTC (`storage.models.utcnow`).
- Pages show local time labelled with its offset ("23/11/2026 23:59 (GMT+7)"); manifests, feeds and the API
  write ISO 8601 with the offset ("2026-11-23T23:59:00+07:00").
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from studio.errors import N_, ValidationError

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"
_zone = ZoneInfo(DEFAULT_ZONE)


def configure(name: str) -> None:
    """Set the studio's time zone (an IANA name); ValueError for a name the system does not know."""
    global _zone
    try:
        _zone = ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Ho_Chi_Minh)") from None


def zone() -> ZoneInfo:
    """The studio's time zone."""
    return _zone


def to_utc(value, field: str) -> datetime | None:
    """A typed or sent time as naive UTC for the database: local time unless it carries an offset."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(N_("%(name)s is not a date and time (YYYY-MM-DD HH:MM)."), field=field,
                                  name=field) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_zone)
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def local(dt: datetime | None) -> datetime | None:
    """A stored (naive UTC) time in the studio's zone."""
    return dt.replace(tzinfo=timezone.utc).astimezone(_zone) if dt is not None else None


def iso(dt: datetime | None, timespec: str = "seconds") -> str | None:
    """ISO 8601 in the studio's zone with its offset, for manifests, feeds and the API."""
    return local(dt).isoformat(timespec=timespec) if dt is not None else None


def label(dt: datetime | None, with_seconds: bool = False) -> str:
    """For pages: local time and its offset, e.g. 23/11/2026 23:59 (GMT+7)."""
    if dt is None:
        return ""
    at = local(dt)
    minutes = int(at.utcoffset().total_seconds() // 60)
    offset = f"{minutes // 60:+d}" + (f":{abs(minutes) % 60:02d}" if minutes % 60 else "")
    return at.strftime("%d/%m/%Y %H:%M:%S" if with_seconds else "%d/%m/%Y %H:%M") + f" (GMT{offset})"
