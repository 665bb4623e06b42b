"""Press works and publications: create, edit with revisions, diff, restore, search."""
from __future__ import annotations

import difflib
import re
from datetime import datetime
from typing import Callable

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from media_pipeline.text.unicode import fold, nfc

from media_pipeline.profiles import CHANNELS
from media_pipeline.publication import valid_isbn
from storage.models import INT64_MAX, Area, Language, PRIORITIES, Revision, STATES, User, WORK_KINDS, Work
from studio.errors import N_, Conflict, NotFound, ValidationError
from studio.services import Caller, audit, clock, fetch
from studio.services.accounts import require_role

FIELDS = ("kind", "title", "summary", "body", "source_language", "topics", "channels", "priority",
          "valid_from", "valid_until", "time_slots", "area_ids", "meta", "chapters")
META_KEYS = ("publisher", "authors", "edition", "isbn", "licence", "publication_type")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
SLOT_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
MAX_BODY = 2_000_000


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = re.split(r"[,\n;]", value)
    return [str(v).strip() for v in value if str(v).strip()]


def _as_datetime(value, field: str) -> datetime | None:
    return clock.to_utc(value, field)


def _area_ids_of_codes(session: Session, codes) -> list[int]:
    codes = [str(c).strip() for c in (codes if isinstance(codes, list) else _as_list(codes))]
    found = dict(session.execute(select(Area.code, Area.id).where(Area.code.in_(codes))).all()) if codes else {}
    for code in codes:
        if code not in found:
            raise ValidationError(N_("No area has the code %(code)s."), field="area_codes", code=code)
    return [found[c] for c in codes]


def normalize(session: Session, data: dict, base: dict | None = None) -> dict:
    """Validate editable fields; `base` supplies the values the caller did not send."""
    d = dict(base or {})
    d.update({k: nfc(v) for k, v in data.items() if k in FIELDS})
    if data.get("area_codes") is not None:  # the official codes, as well as (or instead of) the ids
        d["area_ids"] = _as_list(data.get("area_ids")) + _area_ids_of_codes(session, data["area_codes"])
    out: dict = {}
    out["kind"] = d.get("kind") or "article"
    if out["kind"] not in WORK_KINDS:
        raise ValidationError(N_("Unknown kind of work: %(kind)s."), field="kind", kind=out["kind"])
    out["title"] = (d.get("title") or "").strip()
    if not out["title"]:
        raise ValidationError(N_("The title is required."), field="title")
    if len(out["title"]) > 300:
        raise ValidationError(N_("The title is longer than 300 characters."), field="title")
    out["summary"] = (d.get("summary") or "").strip()
    out["body"] = (d.get("body") or "").replace("\r\n", "\n")
    if len(out["body"]) > MAX_BODY:
        raise ValidationError(N_("The body is longer than %(n)s characters."), field="body", n=MAX_BODY)
    out["source_language"] = (d.get("source_language") or "vi").strip()
    if not LANG_RE.match(out["source_language"]):
        raise ValidationError(N_("%(lang)s is not a language code such as vi, en or zh."),
                              field="source_language", lang=out["source_language"])
    if session.get(Language, out["source_language"]) is None:
        raise ValidationError(N_("Language %(code)s is not in the registry; an admin can add it."),
                              field="source_language", code=out["source_language"])
    out["topics"] = _as_list(d.get("topics"))
    out["channels"] = _as_list(d.get("channels"))
    bad = [c for c in out["channels"] if c not in CHANNELS]
    if bad:
        raise ValidationError(N_("Unknown channel: %(channel)s."), field="channels", channel=bad[0])
    out["priority"] = d.get("priority") or "normal"
    if out["priority"] not in PRIORITIES:
        raise ValidationError(N_("Unknown priority: %(p)s."), field="priority", p=out["priority"])
    vf, vu = _as_datetime(d.get("valid_from"), "valid_from"), _as_datetime(d.get("valid_until"), "valid_until")
    if vf and vu and vu <= vf:
        raise ValidationError(N_("'Valid until' must be after 'valid from'."), field="valid_until")
    out["valid_from"], out["valid_until"] = clock.iso(vf, "minutes"), clock.iso(vu, "minutes")
    out["time_slots"] = _as_list(d.get("time_slots"))
    for slot in out["time_slots"]:
        if not SLOT_RE.match(slot) or slot[:5] >= slot[6:]:
            raise ValidationError(N_("Time slot %(slot)s is not of the form 06:00-06:30."), field="time_slots",
                                  slot=slot)
    raw_ids = d.get("area_ids")
    ids = []
    for i in (raw_ids if isinstance(raw_ids, list) else _as_list(raw_ids)):
        if isinstance(i, float) and i.is_integer():
            i = int(i)
        if isinstance(i, str) and re.fullmatch(r"\s*[0-9]{1,19}\s*", i):
            i = int(i)
        if isinstance(i, bool) or not isinstance(i, int) or not 0 < i <= INT64_MAX:
            raise ValidationError(N_("Unknown area."), field="area_ids")
        ids.append(i)
    ids = sorted(set(ids))
    if ids:
        found = set(session.scalars(select(Area.id).where(Area.id.in_(ids))))
        if found != set(ids):
            raise ValidationError(N_("Unknown area."), field="area_ids")
    out["area_ids"] = ids
    meta = d.get("meta") or {}
    out["meta"] = {k: str(meta.get(k, "")).strip() for k in META_KEYS if str(meta.get(k, "")).strip()}
    if out["meta"].get("isbn") and not valid_isbn(out["meta"]["isbn"]):
        # A mistyped ISBN would silently drop out of the EPUB and the PDF: say so when it is typed.
        raise ValidationError(N_("The ISBN %(isbn)s is not valid: check its digits (ISBN-13 or ISBN-10, the last "
                                 "digit is a check digit)."), field="meta.isbn", isbn=out["meta"]["isbn"])
    chapters = []
    for ch in d.get("chapters") or []:
        title, body = str(ch.get("title", "")).strip(), str(ch.get("body", "")).replace("\r\n", "\n")
        if title or body.strip():
            chapters.append({"title": title, "body": body})
    out["chapters"] = chapters
    return out


def snapshot(work: Work) -> dict:
    """The editable fields of a work as JSON-safe values."""
    return {
        "kind": work.kind, "title": work.title, "summary": work.summary, "body": work.body,
        "source_language": work.source_language, "topics": list(work.topics or []),
        "channels": list(work.channels or []), "priority": work.priority,
        "valid_from": clock.iso(work.valid_from, "minutes"), "valid_until": clock.iso(work.valid_until, "minutes"),
        "time_slots": list(work.time_slots or []), "area_ids": sorted(a.id for a in work.areas),
        "meta": dict(work.meta or {}), "chapters": list(work.chapters or []),
    }


def _apply(session: Session, work: Work, fields: dict) -> None:
    for key in ("kind", "title", "summary", "body", "source_language", "topics", "channels", "priority",
                "time_slots", "meta", "chapters"):
        setattr(work, key, fields[key])
    work.search_text = fold("\n".join([fields["title"], fields["summary"] or "", fields["body"] or "",
                                        " ".join(fields["topics"] or [])] +
                                       [f"{c.get('title', '')}\n{c.get('body', '')}" for c in fields["chapters"] or []]))
    work.valid_from = _as_datetime(fields["valid_from"], "valid_from")
    work.valid_until = _as_datetime(fields["valid_until"], "valid_until")
    work.areas = list(session.scalars(select(Area).where(Area.id.in_(fields["area_ids"])))) if fields["area_ids"] else []


def get(session: Session, work_id: int) -> Work:
    """A work by id, or NotFound."""
    return fetch(session, Work, work_id, N_("Work %(id)s does not exist."))


def create(session: Session, caller: Caller, data: dict) -> Work:
    """Create a work in draft with revision 1 (editors and admins)."""
    require_role(caller, "editor")
    fields = normalize(session, data)
    work = Work(author_id=caller.user.id, state="draft", version=1, current_revision=1)
    _apply(session, work, fields)
    session.add(work)
    session.flush()
    session.add(Revision(work_id=work.id, number=1, snapshot=fields, author_id=caller.user.id,
                         note=(data.get("note") or "")[:300]))
    audit.record(session, caller, "work.create", "work", work.id, title=work.title, kind=work.kind)
    return work


def update(session: Session, caller: Caller, work_id: int, data: dict, expected_version: int | None,
           note: str = "", action: str = "work.edit", audit_extra: Callable[[Work], dict] | None = None) -> Work:
    """Save a new revision; refuse with Conflict if someone saved since `expected_version`.

    `audit_extra(work)`, called once the revision is written, adds to the audit entry (services/editing.py: the
    translations the save made stale). Editors save through editing.save."""
    require_role(caller, "editor")
    work = get(session, work_id)
    if expected_version is None:
        raise ValidationError(N_("The save is missing the version it was based on; reload the page."),
                              field="version")
    if as_version(expected_version) != work.version:
        raise _changed_meanwhile(work)
    before = snapshot(work)
    fields = normalize(session, data, base=before)
    if fields == before:
        return work
    _apply(session, work, fields)
    work.version += 1
    work.current_revision += 1
    previous_state = work.state
    if work.state != "draft":
        # An approved or published work keeps its published revision; the edit is a new draft to approve.
        work.state = "draft"
    session.add(Revision(work_id=work.id, number=work.current_revision, snapshot=fields,
                         author_id=caller.user.id, note=note[:300]))
    changed = [k for k in FIELDS if fields.get(k) != before.get(k)]
    try:
        session.flush()
    except IntegrityError:  # another save of the same version took this revision number first
        session.rollback()  # nothing of this save may stay; the caller's transaction had nothing else
        raise _changed_meanwhile(get(session, work_id)) from None
    extra = audit_extra(work) if audit_extra is not None else {}
    audit.record(session, caller, action, "work", work.id, revision=work.current_revision, fields=changed,
                 state=[previous_state, work.state] if previous_state != work.state else previous_state, **extra)
    return work


def as_version(value) -> int:
    """A `version` sent by a client, or ValidationError naming the field (never a 500)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit() \
            or int(value) > INT64_MAX:
        raise ValidationError(N_("version must be the whole number you read with the work."), field="version")
    return int(value)


def _changed_meanwhile(work: Work) -> Conflict:
    last = work.revisions[-1] if work.revisions else None
    return Conflict(N_("This work was changed by %(who)s (revision %(rev)s) after you opened it. "
                       "Your text is kept below: copy your changes, reload, and save again."),
                    who=last.author.display_name if last else "?", rev=work.current_revision)


def revision(session: Session, work_id: int, number: int) -> Revision:
    """One revision of a work, or NotFound."""
    rev = session.scalar(select(Revision).where(Revision.work_id == work_id, Revision.number == number))
    if rev is None:
        raise NotFound(N_("Revision %(n)s of work %(id)s does not exist."), n=number, id=work_id)
    return rev


class _WorkAt:
    """A work as it was at one revision: its text fields from that revision's snapshot, the rest live."""

    _SNAPSHOT = ("kind", "title", "summary", "body", "source_language", "topics", "channels", "priority", "meta",
                 "chapters", "time_slots")

    def __init__(self, work: Work, snapshot: dict, number: int):
        self._work, self._snap, self.current_revision = work, snapshot, number

    def __getattr__(self, name: str):
        if name in self._SNAPSHOT and name in self._snap:
            return self._snap[name]
        return getattr(self._work, name)


def as_of(session: Session, work: Work, number: int | None) -> Work:
    """The work at revision `number` (renders of a published revision ignore a newer draft)."""
    if number is None or number == work.current_revision:
        return work
    return _WorkAt(work, revision(session, work.id, number).snapshot, number)  # type: ignore[return-value]


def _text(value, key_label: Callable[[str], str] = str) -> list[str]:
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return [f"## {c.get('title', '')}\n{c.get('body', '')}" for c in value]
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [f"{key_label(k)}: {v}" for k, v in sorted(value.items())]
    return ("" if value is None else str(value)).split("\n")


def diff(session: Session, work_id: int, a: int, b: int, key_label: Callable[[str], str] = str) -> list[dict]:
    """Field-by-field unified diff between revisions a and b: [{field, lines:[(tag, text)]}]; `key_label` names
    the publication details' keys for a reader (the API keeps the stored keys)."""
    ra, rb = revision(session, work_id, a), revision(session, work_id, b)
    out = []
    for field in FIELDS:
        va, vb = ra.snapshot.get(field), rb.snapshot.get(field)
        if va == vb:
            continue
        lines = []
        for line in difflib.unified_diff(_text(va, key_label), _text(vb, key_label), f"r{a}", f"r{b}", lineterm="",
                                         n=2):
            if line.startswith(("---", "+++")):
                continue
            tag = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
            lines.append((tag, line))
        out.append({"field": field, "lines": lines})
    return out


def _matches(session: Session, q: str):
    """Works whose text contains `q`, ignoring case and Vietnamese diacritics (đ/d); trigram-indexed."""
    folded = fold(nfc(q).strip())
    like = "%" + folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if session.get_bind().dialect.name == "sqlite" and len(folded) >= 3:  # FTS5 trigram table (migration)
        return Work.id.in_(text("SELECT rowid FROM works_search WHERE search_text LIKE :q ESCAPE '\\'")
                           .bindparams(q=like))
    return Work.search_text.like(like, escape="\\")  # PostgreSQL: the pg_trgm GIN index serves LIKE


def search(session: Session, q: str = "", state: str = "", kind: str = "", language: str = "",
           area_id: int | None = None, author: str = "", page: int = 1, per_page: int = 20):
    """Works matching the filters, newest change first: (items, total)."""
    stmt = select(Work)
    if q:
        stmt = stmt.where(_matches(session, q))
    if state:
        if state not in STATES:
            raise ValidationError(N_("Unknown state: %(s)s."), field="state", s=state)
        stmt = stmt.where(Work.state == state)
    if kind:
        stmt = stmt.where(Work.kind == kind)
    if language:
        stmt = stmt.where(Work.source_language == language)
    if area_id:
        stmt = stmt.where(Work.areas.any(Area.id == area_id))
    if author:
        stmt = stmt.join(User, Work.author_id == User.id).where(User.username == author)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = max(1, page)
    items = list(session.scalars(stmt.order_by(Work.updated_at.desc(), Work.id.desc())
                                 .offset((page - 1) * per_page).limit(per_page)))
    return items, total
