"""The plan's targets for the information network, measured from the endpoints registered and reporting.

The province's plan (the information-poverty-reduction programme) sets, per year:
- the share of communes with a connected IP radio (a loudspeaker endpoint that reported in the period);
- in each district, at least N wards or towns and M communes with a public e-board (connected);
- the share of the districts' e-boards (e-boards registered to a district itself) connected to the provincial
  system.

A commune-level area is a ward or a town when its name starts "Phường" or "Thị trấn" (the official names do);
"connected" means the endpoint reported, or polled its feed, in the period. The required values are kept per
year in the `settings` table (`plan_targets`), editable by admins; a year with none set takes DEFAULTS.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.models import Area, Endpoint, EndpointReport, Setting
from studio.errors import N_, ValidationError
from studio.services import Caller, audit
from studio.services.accounts import require_role

DEFAULTS = {"ip_radio_communes_pct": 100, "eboard_wards_per_district": 1, "eboard_communes_per_district": 2,
            "district_eboards_connected_pct": 100}
LIMITS = {"ip_radio_communes_pct": 100, "eboard_wards_per_district": 50, "eboard_communes_per_district": 50,
          "district_eboards_connected_pct": 100}
WARD_PREFIXES = ("phường", "thị trấn")


def required(session: Session, year: int) -> dict[str, int]:
    """The year's required values (DEFAULTS where none were set)."""
    row = session.get(Setting, "plan_targets")
    return {**DEFAULTS, **((row.value if row else {}).get(str(year)) or {})}


def set_required(session: Session, caller: Caller, year: int, values: dict) -> dict[str, int]:
    """Set a year's required values (admins)."""
    require_role(caller, "admin")
    if not 2000 <= int(year) <= 2100:
        raise ValidationError(N_("Give a year (YYYY) or dates as YYYY-MM-DD."), field="year")
    clean = {}
    for name, top in LIMITS.items():
        raw = values.get(name, DEFAULTS[name])
        try:
            value = int(raw)
        except (TypeError, ValueError):
            value = -1
        if not 0 <= value <= top:
            raise ValidationError(N_("%(name)s must be a whole number from 0 to %(max)s."), field=name, name=name,
                                  max=top)
        clean[name] = value
    row = session.get(Setting, "plan_targets")
    stored = dict(row.value) if row else {}
    stored[str(year)] = clean
    if row is None:
        session.add(Setting(key="plan_targets", value=stored))
    else:
        row.value = stored
    audit.record(session, caller, "targets.set", "setting", "plan_targets", year=year, **clean)
    return clean


def is_ward(area: Area) -> bool:
    return area.name.strip().lower().startswith(WARD_PREFIXES)


def _connected(session: Session, start: datetime, stop: datetime) -> set[int]:
    """Active endpoints that reported or polled in [start, stop)."""
    reported = select(EndpointReport.endpoint_id).where(EndpointReport.received_at >= start,
                                                        EndpointReport.received_at < stop)
    return set(session.scalars(select(Endpoint.id).where(Endpoint.active.is_(True), or_(
        Endpoint.id.in_(reported), (Endpoint.last_seen_at >= start) & (Endpoint.last_seen_at < stop)))))


def measure(session: Session, year: int, start: datetime, stop: datetime) -> dict:
    """Each target's required and reached values and whether it is met, with the areas behind it."""
    need = required(session, year)
    areas = {a.id: a for a in session.scalars(select(Area))}
    connected = _connected(session, start, stop)
    endpoints = list(session.execute(select(Endpoint.id, Endpoint.kind, Endpoint.area_id).where(
        Endpoint.active.is_(True), Endpoint.area_id.is_not(None))))
    on_air = {e.area_id for e in endpoints if e.kind == "loudspeaker" and e.id in connected}
    boards = {e.area_id for e in endpoints if e.kind == "eboard" and e.id in connected}
    communes = [a for a in areas.values() if a.level == "commune"]
    radio_rows = [{"code": a.code, "name": a.name, "met": a.id in on_air} for a in sorted(communes, key=lambda a: a.code)]
    radio_pct = round(100 * sum(r["met"] for r in radio_rows) / len(radio_rows), 1) if radio_rows else None
    district_rows = []
    for d in sorted((a for a in areas.values() if a.level == "district"), key=lambda a: a.code):
        under = [c for c in communes if c.parent_id == d.id and c.id in boards]
        wards = sum(1 for c in under if is_ward(c))
        district_rows.append({"code": d.code, "name": d.name, "wards": wards, "communes": len(under) - wards,
                              "met": wards >= need["eboard_wards_per_district"] and
                              len(under) - wards >= need["eboard_communes_per_district"]})
    district_boards = [e for e in endpoints if e.kind == "eboard" and areas[e.area_id].level == "district"]
    board_pct = (round(100 * sum(e.id in connected for e in district_boards) / len(district_boards), 1)
                 if district_boards else None)
    return {
        "year": year, "required": need,
        "ip_radio_communes": {"required_pct": need["ip_radio_communes_pct"], "reached_pct": radio_pct,
                              "met": radio_pct is not None and radio_pct >= need["ip_radio_communes_pct"],
                              "areas": radio_rows},
        "eboards_by_district": {"required_wards": need["eboard_wards_per_district"],
                                "required_communes": need["eboard_communes_per_district"],
                                "met": bool(district_rows) and all(r["met"] for r in district_rows),
                                "areas": district_rows},
        "district_eboards_connected": {"required_pct": need["district_eboards_connected_pct"],
                                       "reached_pct": board_pct, "boards": len(district_boards),
                                       "met": board_pct is not None and board_pct >= need["district_eboards_connected_pct"]},
    }
