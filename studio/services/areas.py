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


def below(session: Session, *area_ids: int) -> set[int]:
    """The ids of these areas and of every area under them (a district's staff answer for its communes too)."""
    out, frontier = set(area_ids), list(area_ids)
    while frontier:
        frontier = list(session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
        out.update(frontier)
    return out


LEVEL_ORDER = {"province": 0, "district": 1, "commune": 2}
CSV_COLUMNS = ("code", "name", "level", "parent_code")


def by_code(session: Session, code: str) -> Area | None:
    """The area with this code, or None."""
    return session.scalar(select(Area).where(Area.code == (code or "").strip()))


def named(session: Session, code: str | None, field: str) -> Area | None:
    """The area a form or file names by code ("" or None: none), or a ValidationError on `field`."""
    if not (code or "").strip():
        return None
    area = by_code(session, code)
    if area is None:
        raise ValidationError(N_("No area has the code %(code)s."), field=field, code=code.strip())
    return area


def parent_id_for(session: Session, parent_code: str | None) -> int | None:
    """The id of the area named by `parent_code` ("" or None: no parent), or a ValidationError."""
    parent = named(session, parent_code, "parent_code")
    return parent.id if parent else None


def add(session: Session, caller: Caller, data: dict) -> Area:
    """An area from {"code", "name", "level", "parent_code"} (the API's form of `create`)."""
    require_role(caller, "admin")
    return create(session, caller, str(data.get("code") or ""), str(data.get("name") or ""),
                  str(data.get("level") or ""), parent_id_for(session, data.get("parent_code")))


def all_areas(session: Session) -> list[Area]:
    """Every area by code."""
    return list(session.scalars(select(Area).order_by(Area.code)))


def as_json(area: Area) -> dict:
    return {"id": area.id, "code": area.code, "name": area.name, "level": area.level,
            "parent_code": area.parent.code if area.parent else None}


def import_rows(session: Session, caller: Caller, rows: list[tuple[int, dict]]) -> dict:
    """Create or update areas from (line number, row) pairs with the official administrative-unit codes;
    idempotent (an unchanged row changes nothing). Parents come first whatever the file's order (provinces,
    then districts, then communes). A bad row stops the import, named by its line: nothing is written."""
    require_role(caller, "admin")
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for line, row in sorted(rows, key=lambda r: (LEVEL_ORDER.get((r[1].get("level") or "").strip(), 9), r[0])):
        try:
            code, level = (row.get("code") or "").strip(), (row.get("level") or "").strip()
            name = nfc(row.get("name") or "").strip()
            existing = by_code(session, code)
            if existing is None:
                create(session, caller, code, name, level, parent_id_for(session, row.get("parent_code")))
                counts["created"] += 1
                continue
            parent_id = parent_id_for(session, row.get("parent_code"))
            if (existing.name, existing.level, existing.parent_id) == (name, level, parent_id):
                counts["unchanged"] += 1
                continue
            if level != existing.level or parent_id != existing.parent_id:
                raise ValidationError(N_("Area %(code)s is already a %(level)s under another parent; change it "
                                         "on the areas page."), field="code", code=code, level=existing.level)
            if not name:
                raise ValidationError(N_("The area needs a name."), field="name")
            existing.name = name
            audit.record(session, caller, "area.rename", "area", existing.id, code=code, name=name)
            counts["updated"] += 1
        except (ValidationError, NotFound, Conflict) as exc:
            raise ValidationError(N_("Line %(line)s: %(reason)s"), field="file", line=line, reason=str(exc)) from exc
    session.flush()
    return counts


def read_csv(text: str, columns: tuple[str, ...]) -> list[tuple[int, dict]]:
    """(line number, row) pairs of a CSV file whose header names at least `columns` (a UTF-8 BOM is ignored)."""
    import csv
    import io
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(N_("The file's first line must name the columns %(columns)s; missing: %(missing)s."),
                              field="file", columns=",".join(columns), missing=",".join(missing))
    return [(reader.line_num, row) for row in reader]
