"""CAP in: an alert (OASIS CAP 1.2) becomes an emergency work, its other languages translations of it.

The first `<info>` gives the work (headline: title; description and instruction: the body; expires: the
validity; its areas by `VN-ADMIN` geocode or by name), each other `<info>` in a language the studio knows a
translation whose every segment is approved as the sender wrote it ("origin": "sender"), ready for an approver.
The work's author is the CAP gateway's own account (`cap`), so any approver may approve it.

What happens next is the sender's policy (`CapSender`): `draft` (anyone unknown too) leaves the work submitted
for an approver (the emergency screen, `approve_all`); `publish` approves and publishes it at once, only when
the alert's XML signature verifies under the certificate kept for the sender. An `Update` rewrites the work its
original made (a new revision; published again on the same terms), a `Cancel` withdraws it. Every step is in
the audit log.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline import cap
from media_pipeline.text.sentences import split_sentences
from media_pipeline.text.unicode import fold
from storage.models import Area, CapAlert, CapSender, Language, Translation, User, Work, utcnow
from studio.errors import N_, Conflict, NotFound, PermissionDenied, ValidationError
from studio.services import Caller, audit, editing, translations, workflow, works
from studio.services.accounts import require_role

SYSTEM_USERNAME = "cap"
GEOCODE = "VN-ADMIN"
_INVALID = {
    "xml": N_("The document is not well-formed XML (line %(line)s)."),
    "size": N_("The document is larger than 1 MiB."),
    "doctype": N_("The document declares a document type; a CAP alert has none."),
    "root": N_("The document is not a CAP 1.2 alert: its root element is %(element)s."),
    "schema": N_("The alert does not follow the CAP 1.2 schema at line %(line)s: element %(element)s is not "
                 "allowed there."),
    "expected": N_("The alert does not follow the CAP 1.2 schema at line %(line)s: element %(element)s is not "
                   "allowed there (expected: %(expected)s)."),
}


@dataclass
class Received:
    """What taking an alert in did."""

    alert: CapAlert
    work: Work | None
    created: bool
    translations: list[str] = field(default_factory=list)
    skipped_languages: list[str] = field(default_factory=list)
    unmatched_areas: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The API's answer."""
        w = self.work
        return {"work_id": w.id if w else None, "alert_id": self.alert.id, "msg_type": self.alert.msg_type,
                "translations": self.translations, "state": w.state if w else None,
                "published": self.alert.outcome == "published", "signed": self.alert.signed,
                "areas": sorted(a.code for a in w.areas) if w else [],
                "unmatched_areas": self.unmatched_areas, "skipped_languages": self.skipped_languages}


def invalid(exc: cap.CapInvalid) -> ValidationError:
    """A CAP format error as the user's message."""
    key = "expected" if exc.code == "schema" and exc.expected else exc.code
    return ValidationError(_INVALID.get(key, _INVALID["schema"]), field="document", line=exc.line or "?",
                           element=exc.element or "?", expected=exc.expected)


def system_user(session: Session) -> User:
    """The CAP gateway's account (author of alerts' works; it cannot log in), made on first use."""
    user = session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is None:
        user = User(username=SYSTEM_USERNAME, display_name="Cổng cảnh báo CAP", roles="editor,approver",
                    active=False, password_hash="!" + secrets.token_hex(16))  # no password opens it
        session.add(user)
        session.flush()
    return user


def studio_language(session: Session, tag: str) -> str | None:
    """The studio's code for a CAP language tag (vi-VN: vi, zh-CN: zh), or None when not registered."""
    tag = (tag or "en-US").strip().lower()
    for code in (tag, tag.split("-")[0]):
        if session.get(Language, code) is not None:
            return code
    return None


def _naive(dt):
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt and dt.tzinfo else dt


_PREFIXES = ("tinh ", "thanh pho ", "huyen ", "thi xa ", "quan ", "xa ", "phuong ", "thi tran ")


def _name_key(name: str) -> str:
    """An area's name as compared: folded, without its administrative prefix ("Tỉnh Hà Giang": "ha giang")."""
    key = " ".join(fold(name).split())
    for p in _PREFIXES:
        if key.startswith(p):
            return key[len(p):]
    return key


def _areas(session: Session, alert: cap.Alert) -> tuple[list[str], list[str]]:
    """The studio's area codes the alert names (geocode VN-ADMIN, else areaDesc by name), and the rest."""
    by_name = None
    codes, unmatched = [], []
    for info in alert.infos:
        for a in info.areas:
            found = [v for n, v in a.geocodes if n == GEOCODE and session.scalar(
                select(Area.code).where(Area.code == v))]
            if not found and a.desc:
                if by_name is None:
                    by_name = {_name_key(name): code for code, name in session.execute(select(Area.code, Area.name))}
                code = by_name.get(_name_key(a.desc))
                found = [code] if code else []
            if found:
                codes += [c for c in found if c not in codes]
            elif a.desc and a.desc not in unmatched:
                unmatched.append(a.desc)
    return codes, unmatched


# CAP 1.2's categories (3.2.2) as the topics readers see on the sites and the works list, in Vietnamese; the
# alert keeps its own categories for the CAP document it goes out as.
CATEGORY_TOPICS = {"Geo": "Địa chất", "Met": "Khí tượng thủy văn", "Safety": "An toàn", "Security": "An ninh",
                   "Rescue": "Cứu hộ, cứu nạn", "Fire": "Phòng cháy, chữa cháy", "Health": "Y tế",
                   "Env": "Môi trường", "Transport": "Giao thông", "Infra": "Hạ tầng",
                   "CBRNE": "Hóa chất, sinh học, phóng xạ, hạt nhân", "Other": "Khác"}


def _topics(info: cap.Info) -> list[str]:
    return list(dict.fromkeys(CATEGORY_TOPICS.get(c, c) for c in info.categories if c))


def _body(info: cap.Info) -> str:
    return "\n\n".join(t for t in (info.description, info.instruction) if t)


def _fields(info: cap.Info, language: str, channels: list[str], codes: list[str]) -> dict:
    return {"kind": "article", "title": (info.headline or info.event)[:300], "summary": "", "body": _body(info),
            "source_language": language, "priority": "emergency", "channels": list(channels),
            "topics": _topics(info), "valid_from": None,
            "valid_until": info.expires.isoformat() if info.expires else None, "area_codes": codes, "area_ids": []}


def _segments(source: cap.Info, other: cap.Info, sender: str) -> list[dict]:
    """The other info's text aligned with the work's segments field by field: sentence by sentence when both
    have as many, else the field's whole text in its first segment (the others empty)."""
    out = []
    for mine, theirs in ((source.headline or source.event, other.headline or other.event),
                         (source.description, other.description), (source.instruction, other.instruction)):
        src, dst = split_sentences(mine or ""), split_sentences(theirs or "")
        if len(src) != len(dst):
            dst = [" ".join(dst)] + [""] * (len(src) - 1) if src else []
        out += [{"source": s, "target": t, "status": "approved", "origin": "sender", "by": sender}
                for s, t in zip(src, dst)]
    return out


def _translate(session: Session, work: Work, alert: cap.Alert, system: User) -> tuple[list[str], list[str]]:
    """Each other info as the work's translation into its language; (languages, tags skipped)."""
    first = alert.infos[0]
    done, skipped = [], []
    sources = translations.source_sentences(work)
    for info in alert.infos[1:]:
        code = studio_language(session, info.language)
        if code is None or code == work.source_language or code in done:
            skipped.append(info.language)
            continue
        segments = _segments(first, info, alert.sender)
        if [s["source"] for s in segments] != sources:  # the split differs: keep the whole text together
            segments = [{"source": s, "target": "", "status": "approved", "origin": "sender", "by": alert.sender}
                        for s in sources]
            if segments:
                segments[0]["target"] = " ".join(t for t in (info.headline, info.description, info.instruction) if t)
        tr = session.scalar(select(Translation).where(Translation.work_id == work.id, Translation.language == code))
        if tr is None:
            tr = Translation(work_id=work.id, language=code, created_by_id=system.id)
            session.add(tr)
        tr.segments, tr.state, tr.source_revision = segments, "draft", work.current_revision
        tr.title = (info.headline or info.event)[:300]
        tr.version = (tr.version or 0) + 1
        tr.approved_by_id = tr.approved_at = None
        done.append(code)
    session.flush()
    return done, skipped


def _info(session: Session, alert: cap.Alert) -> dict:
    first = alert.infos[0] if alert.infos else cap.Info()
    texts = {}
    for info in alert.infos:
        code = studio_language(session, info.language)
        if code and code not in texts:
            texts[code] = {"headline": info.headline or info.event, "description": info.description,
                           "instruction": info.instruction}
    return {"event": first.event, "categories": first.categories, "urgency": first.urgency,
            "severity": first.severity, "certainty": first.certainty, "sender_name": first.sender_name,
            "web": first.web, "contact": first.contact, "texts": texts}


def _approve_and_publish(session: Session, system: Caller, work: Work, sender: CapSender, alert: CapAlert) -> None:
    """The trusted sender's path: every translation and the work approved by the gateway, then published."""
    skipped = []
    for tr in translations.for_work(session, work.id):
        if tr.state == "approved":
            continue
        if all(seg.get("status") == "approved" for seg in tr.segments):
            translations.approve(session, system, work.id, tr.language)
        else:  # an earlier alert's language this one no longer brings: it waits for a translator
            skipped.append(tr.language)
    if work.state == "draft":
        workflow.transition(session, system, work.id, "submit")
    work.approved_revision, work.approved_by_id, work.state = work.current_revision, system.user.id, "approved"
    audit.record(session, system, "cap.auto_approve", "work", work.id, sender=sender.sender, alert=alert.id,
                 policy=sender.policy, signed=True, revision=work.current_revision, not_approved=skipped)
    workflow.transition(session, system, work.id, "publish", reason="CAP")
    alert.outcome = "published"


def _originals(session: Session, alert: cap.Alert) -> list[CapAlert]:
    """The alerts this one refers to that came here from the same sender, newest first."""
    ids = [i for s, i, _ in alert.references if s == alert.sender]
    if not ids:
        return []
    return list(session.scalars(select(CapAlert).where(CapAlert.sender == alert.sender,
                                                       CapAlert.identifier.in_(ids)).order_by(CapAlert.id.desc())))


def receive(session: Session, caller: Caller, data: bytes, channels: list[str], origin: str = "api") -> Received:
    """Take a CAP 1.2 document in (see the module's docstring); ValidationError, Conflict (a duplicate),
    PermissionDenied (a signature the sender must give) or NotFound (a cancel of nothing) otherwise."""
    require_role(caller, "editor", "approver")
    try:
        parsed = cap.parse(data)
    except cap.CapInvalid as exc:
        raise invalid(exc) from None
    if parsed.status != "Actual":
        raise ValidationError(N_("Only actual alerts are taken in; this one's status is %(status)s."),
                              field="status", status=parsed.status)
    if parsed.msg_type not in ("Alert", "Update", "Cancel"):
        raise ValidationError(N_("A message of type %(type)s carries no alert to broadcast."), field="msgType",
                              type=parsed.msg_type)
    if parsed.msg_type != "Cancel" and not parsed.infos:
        raise ValidationError(N_("The alert has no info block: nothing to broadcast."), field="info")
    if len(parsed.sender) > 200 or len(parsed.identifier) > 200:
        raise ValidationError(N_("The alert's sender and identifier may have at most 200 characters each."),
                              field="identifier")
    if session.scalar(select(CapAlert.id).where(CapAlert.sender == parsed.sender,
                                                CapAlert.identifier == parsed.identifier)) is not None:
        raise Conflict(N_("This alert was already received (sender %(sender)s, identifier %(identifier)s)."),
                       sender=parsed.sender, identifier=parsed.identifier)
    sender = session.scalar(select(CapSender).where(CapSender.sender == parsed.sender))
    signed = False
    if sender is not None and sender.certificate:
        try:
            verified = cap.verify(data, [sender.certificate])
        except cap.CapInvalid as exc:
            raise invalid(exc) from None
        except cap.SignatureInvalid:
            raise ValidationError(N_("The alert's signature does not verify under the certificate kept for "
                                     "%(sender)s; it was not taken in."), field="Signature",
                                  sender=parsed.sender) from None
        if verified is not None:
            if (verified.sender, verified.identifier) != (parsed.sender, parsed.identifier):
                raise ValidationError(N_("The alert's signature does not verify under the certificate kept for "
                                         "%(sender)s; it was not taken in."), field="Signature", sender=parsed.sender)
            parsed, signed = verified, True  # only what was signed counts
    if sender is not None and sender.require_signature and not signed:
        raise PermissionDenied(N_("Alerts from %(sender)s must carry a valid signature; this one has none."),
                               sender=parsed.sender)
    expires = _naive(parsed.infos[0].expires) if parsed.infos else None
    if expires is not None and expires <= utcnow() and parsed.msg_type != "Cancel":
        raise ValidationError(N_("The alert expired at %(at)s; it was not taken in."), field="expires",
                              at=parsed.infos[0].expires.isoformat())
    trusted = sender is not None and sender.policy == "publish" and signed
    system = Caller(system_user(session), caller.ip)
    row = CapAlert(identifier=parsed.identifier, sender=parsed.sender, sent=_naive(parsed.sent),
                   msg_type=parsed.msg_type, references=[list(r) for r in parsed.references], origin=origin[:500],
                   signed=signed, outcome="draft", info=_info(session, parsed),
                   document=data.decode("utf-8", "replace"), received_by_id=caller.user.id if caller.user else None)
    session.add(row)
    originals = _originals(session, parsed) if parsed.msg_type != "Alert" else []
    original_work = next((session.get(Work, o.work_id) for o in originals if o.work_id), None)
    session.flush()
    audit.record(session, caller, "cap.receive", "cap_alert", row.id, identifier=parsed.identifier, sender=parsed.sender,
                 msg_type=parsed.msg_type, signed=signed, origin=origin[:200],
                 policy=sender.policy if sender else "draft")
    if parsed.msg_type == "Cancel":
        if original_work is None:
            raise NotFound(N_("The alert this one cancels was never received here."))
        return _cancel(session, caller, system, row, original_work, trusted)
    if original_work is not None and original_work.state == "retracted":
        original_work = None  # withdrawn already: the update starts afresh
    return _alert(session, system, parsed, row, sender, trusted, channels, original_work)


def _alert(session: Session, system: Caller, parsed: cap.Alert, row: CapAlert, sender: CapSender | None,
           trusted: bool, channels: list[str], work: Work | None) -> Received:
    first = parsed.infos[0]
    language = studio_language(session, first.language)
    if language is None:
        raise ValidationError(N_("The alert's first language, %(lang)s, is not in the studio's registry; an admin "
                                 "can add it."), field="language", lang=first.language)
    codes, unmatched = _areas(session, parsed)
    if unmatched and not codes:
        trusted = False  # it would go everywhere: a person decides (the emergency screen says so)
    fields = _fields(first, language, channels, codes)
    created = work is None
    if created:
        work = works.create(session, system, fields)
    else:
        editing.save(session, system, work.id, fields, expected_version=work.version, note="CAP update",
                     action="cap.update")
    row.work_id = work.id
    session.flush()
    done, skipped = _translate(session, work, parsed, system.user)
    if trusted:
        _approve_and_publish(session, system, work, sender, row)
    elif work.state == "draft":
        workflow.transition(session, system, work.id, "submit")
    return Received(row, work, created, done, skipped, unmatched)


def _cancel(session: Session, caller: Caller, system: Caller, row: CapAlert, work: Work, trusted: bool) -> Received:
    """Withdraw the work a cancelled alert made: at once for a trusted, signed sender or an approver's request."""
    if not (trusted or (caller.user is not None and caller.user.has_role("approver"))):
        raise PermissionDenied(N_("A cancel from this sender is carried out by an approver: post it with an "
                                  "approver's token, or withdraw the work on its page."))
    row.work_id, row.outcome = work.id, "cancelled"
    who = system if trusted else caller
    if work.published_revision is not None:
        workflow.transition(session, who, work.id, "retract", reason="CAP Cancel")
    else:
        before, work.state = work.state, "retracted"
        work.version += 1
        audit.record(session, who, "work.retract", "work", work.id, state=[before, "retracted"], reason="CAP Cancel")
    for old in session.scalars(select(CapAlert).where(CapAlert.work_id == work.id, CapAlert.id != row.id)):
        old.outcome = "cancelled"
    return Received(row, work, False)


def approve_all(session: Session, caller: Caller, work_id: int) -> Work:
    """The emergency screen's one action: approve every translation, then the work, then publish it."""
    require_role(caller, "approver")
    work = works.get(session, work_id)
    if work.priority != "emergency":
        raise Conflict(N_("Only an emergency is approved and published in one step; use the work's page."))
    for tr in translations.for_work(session, work.id):
        if tr.state != "approved":
            translations.approve(session, caller, work.id, tr.language)
    if work.state == "draft":
        workflow.transition(session, caller, work.id, "submit")
    if work.state == "submitted":
        workflow.transition(session, caller, work.id, "approve")
    workflow.transition(session, caller, work.id, "publish")
    for row in session.scalars(select(CapAlert).where(CapAlert.work_id == work.id, CapAlert.outcome == "draft")):
        row.outcome = "published"
    return work


def for_work(session: Session, work_id: int) -> list[CapAlert]:
    """The alerts that made or changed a work, newest first."""
    return list(session.scalars(select(CapAlert).where(CapAlert.work_id == work_id).order_by(CapAlert.id.desc())))


def recent(session: Session, limit: int = 50) -> list[CapAlert]:
    """The alerts taken in lately, newest first."""
    return list(session.scalars(select(CapAlert).order_by(CapAlert.id.desc()).limit(limit)))
