"""Administrative areas: province, optional district, commune, as a tree with codes."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline.text.unicode import nfc
from storage.models import AREA_LEVELS, Area
from studio.errors import N_, Conflict, NotFound, ValidationError
from studio.services import Caller, audit
from studio.services.accounts import require_role

CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_PARENT_LEVELS = {"province": (), "district": ("province",), "commune": ("province", "district")}


def create(session: Session, caller: Caller, code: str, name: str, level: str, parent_id: int | None) -> Area:
    """Add an area under its parent (admins only); communes may hang from a province or a district."""
    require_role(caller, "admin")
    code, name = (code or "").strip(), nfc(name or "").strip()
    if not CODE_RE.match(code):
        raise ValidationError(N_("An area code has 1 to 32 letters, digits, '.', '_' or '-'."), field="code")
    if not name:
        raise ValidationError(N_("The area needs a name."), field="name")
    if level not in AREA_LEVELS:
        raise ValidationError(N_("Unknown level: %(level)s."), field="level", level=level)
    parent = session.get(Area, parent_id) if parent_id else None
    if parent_id and parent is None:
        raise NotFound(N_("The parent area does not exist."))
    allowed = _PARENT_LEVELS[level]
    if (parent is None and allowed) or (parent is not None and parent.level not in allowed):
        raise ValidationError(N_("A %(level)s must be placed under: %(allowed)s."), field="parent_id",
                              level=level, allowed=", ".join(allowed) or "-")
    if session.scalar(select(Area).where(Area.code == code)):
        raise Conflict(N_("The area code %(code)s is taken."), code=code)
    area = Area(code=code, name=name, level=level, parent=parent)
    session.add(area)
    session.flush()
    audit.record(session, caller, "area.create", "area", area.id, code=code, name=name, level=level)
    return area


def tree(session: Session) -> list[tuple[int, Area]]:
    """All areas depth-first as (depth, area), roots first."""
    out: list[tuple[int, Area]] = []

    def walk(area: Area, depth: int) -> None:
        out.append((depth, area))
        for child in area.children:
            walk(child, depth + 1)

    for root in session.scalars(select(Area).where(Area.parent_id.is_(None)).order_by(Area.code)):
        walk(root, 0)
    return out


def chain(area: Area | None) -> set[str]:
    """An area's code and the codes of the areas above it (empty for no area). An endpoint in the area takes
    the works sent to any of these."""
    return {a.code for a in area.ancestors()} | {area.code} if area else set()


def below(session: Session, area_id: int) -> set[int]:
    """The ids of an area and of every area under it (a district's staff answer for its communes too)."""
    out, frontier = {area_id}, [area_id]
    while frontier:
        frontier = list(session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
        out.update(frontier)
    return out
