"""Distribution endpoints (loudspeaker controllers, board players, screens, portals, kiosks) and their reports."""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from media_pipeline import profiles as registry
from media_pipeline.text.unicode import nfc
from storage.models import PLAYING_STATES, Area, Endpoint, EndpointReport, Package, PackageFile, ProgrammeItem, utcnow
from studio.errors import N_, TooLarge, ValidationError
from studio.services import Caller, areas, audit, channels, feeds, fetch, languages
from studio.services.accounts import hash_token, require_role

MAX_REPORTS = 1000  # per request
OUTCOMES = ("played", "failed", "skipped", "rejected")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def get(session: Session, endpoint_id: int) -> Endpoint:
    """An endpoint by id, or NotFound."""
    return fetch(session, Endpoint, endpoint_id, N_("Endpoint %(id)s does not exist."))


def all_endpoints(session: Session) -> list[Endpoint]:
    """Every endpoint, by name."""
    return list(session.scalars(select(Endpoint).order_by(Endpoint.name)))


def _new_token() -> str:
    return "ep_" + secrets.token_urlsafe(32)


def create(session: Session, caller: Caller, data: dict) -> tuple[Endpoint, str]:
    """Register an endpoint (admins); returns it and its token, which is shown this once and stored hashed."""
    require_role(caller, "admin")
    name = nfc(data.get("name") or "").strip()
    if not name or len(name) > 200:
        raise ValidationError(N_("Give the endpoint a name (at most 200 characters)."), field="name")
    kind = data.get("kind") or ""
    if kind not in registry.ENDPOINT_KINDS:
        raise ValidationError(N_("Unknown endpoint kind: %(kind)s."), field="kind", kind=kind)
    display = channels.check_display(kind, data.get("display") or "")
    area_id = int(data["area_id"]) if str(data.get("area_id") or "").isdigit() else None
    if area_id is not None and session.get(Area, area_id) is None:
        raise ValidationError(N_("The area does not exist."), field="area_id")
    if (data.get("area_code") or "").strip():
        area_id = areas.named(session, data["area_code"], "area_code").id
    zone = nfc(data.get("zone") or "").strip()
    if len(zone) > 100:
        raise ValidationError(N_("A zone's name has at most 100 characters."), field="zone")
    if zone and (area_id is None or session.get(Area, area_id).level != "commune"):
        raise ValidationError(N_("A zone groups one commune's loudspeakers: give the endpoint a commune."),
                              field="zone")
    langs = data.get("languages") or []
    if isinstance(langs, str):
        langs = [x.strip() for x in langs.split(",") if x.strip()]
    for code in langs:
        languages.get(session, code, field="languages")
    token = _new_token()
    ep = Endpoint(name=name, kind=kind, area_id=area_id, display=display, contact=(data.get("contact") or "")[:300],
                  languages=sorted(set(langs)), zone=zone, token_prefix=token[:10], token_hash=hash_token(token))
    session.add(ep)
    session.flush()
    audit.record(session, caller, "endpoint.create", "endpoint", ep.id, name=name, kind=kind)
    return ep, token


def as_json(ep: Endpoint) -> dict:
    """An endpoint as the API shows it (never its token, which only the answer creating it carries)."""
    return {"id": ep.id, "name": ep.name, "kind": ep.kind, "area_code": ep.area.code if ep.area else None,
            "display": ep.display or "", "languages": list(ep.languages or []), "zone": ep.zone or "",
            "active": ep.active, "token_prefix": ep.token_prefix}


CSV_COLUMNS = ("name", "kind", "area_code", "display", "languages", "zone")


def import_rows(session: Session, caller: Caller, rows: list[tuple[int, dict]]) -> tuple[list, int]:
    """Register endpoints from (line number, row) pairs; returns [(endpoint, token)] for the new ones and the
    count of rows already registered (same name, kind, area and zone, active), which keep their tokens: the
    import can be run again. A bad row stops it, named by its line: nothing is written."""
    require_role(caller, "admin")
    created, existing = [], 0
    for line, row in rows:
        try:
            area = areas.named(session, row.get("area_code"), "area_code")
            name, zone = nfc(row.get("name") or "").strip(), nfc(row.get("zone") or "").strip()
            same = session.scalar(select(Endpoint.id).where(
                Endpoint.name == name, Endpoint.kind == (row.get("kind") or "").strip(), Endpoint.active.is_(True),
                Endpoint.area_id == area.id if area else Endpoint.area_id.is_(None), Endpoint.zone == zone))
            if same is not None:
                existing += 1
                continue
            created.append(create(session, caller, {**row, "kind": (row.get("kind") or "").strip(),
                                                     "area_id": None}))
        except ValidationError as exc:
            raise ValidationError(N_("Line %(line)s: %(reason)s"), field="file", line=line, reason=str(exc)) from exc
    return created, existing


def rotate(session: Session, caller: Caller, endpoint_id: int) -> str:
    """A new token for the endpoint; the old one stops working at once."""
    require_role(caller, "admin")
    ep = get(session, endpoint_id)
    token = _new_token()
    ep.token_prefix, ep.token_hash, ep.active = token[:10], hash_token(token), True
    audit.record(session, caller, "endpoint.rotate", "endpoint", ep.id)
    return token


def revoke(session: Session, caller: Caller, endpoint_id: int) -> Endpoint:
    """Refuse the endpoint's token from now on."""
    require_role(caller, "admin")
    ep = get(session, endpoint_id)
    ep.active = False
    audit.record(session, caller, "endpoint.revoke", "endpoint", ep.id)
    return ep


def for_token(session: Session, token: str) -> Endpoint | None:
    """The active endpoint holding this token, or None."""
    if not token.startswith("ep_"):
        return None
    ep = session.scalar(select(Endpoint).where(Endpoint.token_hash == hash_token(token)))
    return ep if ep is not None and ep.active else None


def _time(value, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValidationError(N_("%(where)s must be an ISO 8601 time."), field=where, where=where)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(N_("%(where)s must be an ISO 8601 time."), field=where, where=where) from None
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt


def _played(item: dict, where: str) -> dict:
    """A play's outcome, start and end (not before the start), and its detail, checked."""
    if item.get("outcome") not in OUTCOMES:
        raise ValidationError(N_("%(where)s must be one of: %(ok)s."), field=f"{where}.outcome",
                              where=f"{where}.outcome", ok=", ".join(OUTCOMES))
    start, end = _time(item.get("start"), f"{where}.start"), _time(item.get("end"), f"{where}.end")
    if end < start:
        raise ValidationError(N_("%(where)s is before the start."), field=f"{where}.end", where=f"{where}.end")
    return {"started_at": start, "ended_at": end, "outcome": item["outcome"],
            "data": {k: item[k] for k in ("detail",) if k in item}}


def _check(item, i: int) -> dict:
    """One report, validated; errors name the field, e.g. reports[3].start."""
    where = f"reports[{i}]"
    if not isinstance(item, dict):
        raise ValidationError(N_("%(where)s must be an object."), field=where, where=where)
    cid = item.get("id")
    if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
        raise ValidationError(N_("%(where)s needs an id chosen by the client (1-100 characters)."),
                              field=f"{where}.id", where=f"{where}.id")
    kind = item.get("type")
    out = {"client_id": cid, "type": kind}
    if kind == "play" and item.get("relay") is True:  # a live relay's slot: no file, the occurrence it played
        if not isinstance(item.get("item"), int) or item.get("scheduled_at") is None:
            raise ValidationError(N_("%(where)s must be a programme item id."), field=f"{where}.item",
                                  where=f"{where}.item")
        out.update(_played(item, where), item_id=item["item"],
                   scheduled_at=_time(item["scheduled_at"], f"{where}.scheduled_at").replace(microsecond=0))
        out["data"] = {"relay": True, **out["data"]}
    elif kind == "play":
        if not isinstance(item.get("package"), int):
            raise ValidationError(N_("%(where)s must be a package id."), field=f"{where}.package",
                                  where=f"{where}.package")
        if not isinstance(item.get("file"), str) or not SHA_RE.match(item["file"]):
            raise ValidationError(N_("%(where)s must be the file's sha256."), field=f"{where}.file",
                                  where=f"{where}.file")
        out.update(_played(item, where), package_id=item["package"], file_sha256=item["file"])
        if item.get("scheduled_at") is not None:  # a play of a programme occurrence (the as-run counts it)
            out["scheduled_at"] = _time(item["scheduled_at"], f"{where}.scheduled_at").replace(microsecond=0)
            if item.get("item") is not None and (not isinstance(item["item"], int) or isinstance(item["item"], bool)):
                raise ValidationError(N_("%(where)s must be a programme item id."), field=f"{where}.item",
                                      where=f"{where}.item")
            out["item_id"] = item.get("item")
    elif kind == "heartbeat":
        holds = item.get("holds", [])
        if not isinstance(holds, list) or not all(isinstance(h, int) for h in holds):
            raise ValidationError(N_("%(where)s must be a list of package ids."), field=f"{where}.holds",
                                  where=f"{where}.holds")
        free = item.get("free_bytes")
        if free is not None and (not isinstance(free, int) or free < 0):
            raise ValidationError(N_("%(where)s must be a number of bytes."), field=f"{where}.free_bytes",
                                  where=f"{where}.free_bytes")
        out["data"] = {"holds": holds, "free_bytes": free, "software": str(item.get("software", ""))[:100]}
    else:
        raise ValidationError(N_("%(where)s must be \"play\" or \"heartbeat\"."), field=f"{where}.type",
                              where=f"{where}.type")
    return out


def record(session: Session, endpoint: Endpoint, payload) -> dict:
    """Store a batch of reports; a report id the endpoint sent before is stored once. Returns the counts."""
    items = payload.get("reports") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ValidationError(N_("Send {\"reports\": [...]}."), field="reports")
    if len(items) > MAX_REPORTS:
        raise TooLarge(N_("At most %(n)s reports per request."), field="reports", n=MAX_REPORTS)
    checked = [_check(item, i) for i, item in enumerate(items)]
    refused = []
    sent = _sent_files(session, endpoint, {c["package_id"] for c in checked if "package_id" in c})
    for i, c in enumerate(checked):
        if c["type"] == "play" and "package_id" in c and (c["package_id"], c["file_sha256"]) not in sent:
            refused.append({"index": i, "id": c["client_id"], "code": "not_sent",
                            "reason": "this endpoint was never sent that package's file"})
    skip = {r["index"] for r in refused}
    checked = [c for i, c in enumerate(checked) if i not in skip]
    ids = [c["client_id"] for c in checked]
    seen = set(session.scalars(select(EndpointReport.client_id).where(
        EndpointReport.endpoint_id == endpoint.id, EndpointReport.client_id.in_(ids))))
    rows = []
    for c in checked:
        if c["client_id"] in seen:
            continue
        seen.add(c["client_id"])
        rows.append({"endpoint_id": endpoint.id, "received_at": utcnow(), "package_id": None, "file_sha256": "",
                     "started_at": None, "ended_at": None, "outcome": "", "data": {}, "scheduled_at": None,
                     "item_id": None, **c})
        if c["type"] == "heartbeat":
            endpoint.last_heartbeat = {**c["data"], "at": utcnow().isoformat(timespec="seconds")}
    if rows:  # one multi-row INSERT, not an ORM object per report
        session.execute(insert(EndpointReport), rows)
    stored = len(rows)
    endpoint.last_seen_at = utcnow()
    return {"stored": stored, "duplicates": len(checked) - stored, "refused": refused}


def _sent_files(session: Session, endpoint: Endpoint, package_ids: set[int]) -> set[tuple[int, str]]:
    """The (package, file sha256) pairs among these packages the endpoint could have been sent (published,
    its area chain or its programme, its kind's channels), in three queries whatever the batch's size."""
    if not package_ids:
        return set()
    chain = areas.chain(endpoint.area)
    scheduled = set(session.scalars(select(ProgrammeItem.work_id).where(
        ProgrammeItem.area_id.in_([endpoint.area.id, *(a.id for a in endpoint.area.ancestors())]),
        ProgrammeItem.state.in_((*PLAYING_STATES, "cancelled"))))) if endpoint.area is not None else set()
    ok = [p.id for p in session.scalars(select(Package).where(Package.id.in_(package_ids),
                                                               Package.published_at.is_not(None)))
          if endpoint.area is None or not p.area_codes or chain & set(p.area_codes) or p.work_id in scheduled]
    kind = registry.ENDPOINT_KINDS.get(endpoint.kind)
    if not ok or kind is None:
        return set()
    return {(package_id, (entry or {}).get("sha256")) for package_id, entry in session.execute(
        select(PackageFile.package_id, PackageFile.entry).where(PackageFile.package_id.in_(ok),
                                                                PackageFile.channel.in_(kind.channels)))}


def status(session: Session, endpoint: Endpoint) -> dict:
    """What the endpoint should hold, what it says it holds, and its recent plays."""
    should = [p.id for p, _ in feeds.feed_query(session, endpoint.kind, endpoint.area, endpoint.display,
                                                     endpoint.languages)]
    holds = (endpoint.last_heartbeat or {}).get("holds", [])
    plays = list(session.scalars(select(EndpointReport).where(EndpointReport.endpoint_id == endpoint.id,
                                                              EndpointReport.type == "play")
                                 .order_by(EndpointReport.started_at.desc()).limit(50)))
    return {"should": should, "holds": holds, "missing": [p for p in should if p not in holds],
            "extra": [p for p in holds if p not in should], "plays": plays}
