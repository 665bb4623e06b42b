"""Citizens' feedback on published works and the staff's answers: the two-way loop the provinces require.

A citizen writes from the readers' page, a kiosk or portal (with its endpoint's token) or the API, without an
account. Spam is kept out without any outside service: a hidden field people leave empty, a throttle per
sender (its address, kept only as a salted hash) and a refusal of the same message twice. Staff responsible
for the work's areas (a user with no area answers for the whole province) see it in their inbox; an editor or
approver assigns it (to themselves or a colleague) and answers; the answer is shown under the question on the
readers' page when the citizen agreed to publication. The phone number is seen by the assignee and admins only
and erased after `phone_days` days (`erase_phones`, run before any list is read).
"""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from media_pipeline.text.unicode import nfc
from storage.models import Area, Endpoint, Feedback, User, Work, utcnow, work_areas
from studio.errors import N_, Conflict, NotFound, PermissionDenied, TooManyRequests, ValidationError
from studio.services import Caller, accounts, areas, audit, fetch, languages, reading

STATES = ("new", "assigned", "answered", "closed")
MAX_MESSAGE = 2000
PHONE_RE = re.compile(r"^\+?[0-9][0-9 .\-]{5,18}[0-9]$")
EMAIL_RE = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
PER_SENDER = 5          # messages a sender may send ...
PER_SENDER_WINDOW = timedelta(minutes=10)  # ... within this time
STAFF = ("editor", "approver")


def _sender(address: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}|{address}".encode()).hexdigest()


def submit(session: Session, work_id: int | None, data: dict, address: str, salt: str, source: str = "page",
           endpoint: Endpoint | None = None, area: Area | None = None) -> Feedback:
    """A citizen's message on a published work, or (work_id None) a question to an area's site; ValidationError
    says what to fix, TooManyRequests to wait. `email` with `notify`: the answer is sent to that address."""
    if (data.get("website") or "").strip():  # the hidden field: only robots fill it
        raise ValidationError(N_("Your message could not be accepted."), field="message")
    if work_id is not None:
        reading.published(session, work_id)  # readers write only about what they can read
    elif area is None:
        raise ValidationError(N_("Say which item or site the question is about."), field="work_id")
    email = str(data.get("email") or "").strip()
    if email and (len(email) > 200 or not EMAIL_RE.match(email)):
        raise ValidationError(N_("The e-mail address is not valid."), field="email")
    notify = bool(email) and str(data.get("notify") or "").lower() in ("1", "true", "on", "yes")
    message = nfc(str(data.get("message") or "")).strip()
    name = nfc(str(data.get("name") or "")).strip()[:120]
    phone = str(data.get("phone") or "").strip()
    language = str(data.get("language") or "").strip()
    if not message or len(message) > MAX_MESSAGE:
        raise ValidationError(N_("Write your feedback (at most 2,000 characters)."), field="message")
    if phone and not PHONE_RE.match(phone):
        raise ValidationError(N_("The phone number may hold only digits, spaces, dots, dashes and a leading +."),
                              field="phone")
    if language:
        languages.get(session, language, field="language")
    sender = _sender(address, salt)
    since = utcnow() - PER_SENDER_WINDOW
    recent = list(session.scalars(select(Feedback.message).where(Feedback.sender_hash == sender,
                                                                 Feedback.created_at >= since)))
    if len(recent) >= PER_SENDER:
        raise TooManyRequests(N_("You have sent several messages just now; please wait a few minutes."))
    if message in recent:
        raise ValidationError(N_("This message has already been received."), field="message")
    fb = Feedback(work_id=work_id, area_id=area.id if area is not None else None, message=message, name=name,
                  phone=phone, language=language, publish=bool(data.get("publish")), source=source,
                  sender_hash=sender, endpoint_id=endpoint.id if endpoint else None,
                  email=email if notify else "", notify=notify)
    session.add(fb)
    session.flush()
    return fb


def erase_phones(session: Session, days: int) -> int:
    """Erase phone numbers older than `days`; returns how many."""
    cutoff = utcnow() - timedelta(days=days)
    return session.execute(update(Feedback).where(or_(Feedback.phone != "", Feedback.email != ""),
                                                  Feedback.created_at < cutoff)
                           .values(phone="", email="", phone_erased_at=utcnow())).rowcount or 0


def _responsible(session: Session, user: User):
    """A condition selecting the feedback a user answers for: works sent to the user's areas or below them."""
    if "admin" in user.role_set or not user.areas:
        return None
    below = areas.below(session, *(a.id for a in user.areas))
    return or_(Feedback.work_id.in_(select(work_areas.c.work_id).where(work_areas.c.area_id.in_(below))),
               Feedback.area_id.in_(below))


def inbox(session: Session, caller: Caller, state: str | None = None, phone_days: int = 90) -> list[Feedback]:
    """The feedback the caller answers for, newest first (optionally one state)."""
    accounts.require_role(caller, *STAFF)
    erase_phones(session, phone_days)
    query = select(Feedback).order_by(Feedback.created_at.desc())
    scope = _responsible(session, caller.user)
    if scope is not None:
        query = query.where(scope)
    if state is not None:  # given, even empty: one of STATES
        if state not in STATES:
            raise ValidationError(N_("Unknown state: %(s)s."), field="state", s=state)
        query = query.where(Feedback.state == state)
    return list(session.scalars(query.limit(500)))


def get(session: Session, caller: Caller, feedback_id: int) -> Feedback:
    """One message the caller answers for, or NotFound (others' areas are not shown)."""
    accounts.require_role(caller, *STAFF)
    fb = fetch(session, Feedback, feedback_id, N_("Feedback %(id)s does not exist."))
    scope = _responsible(session, caller.user)
    if scope is not None and session.scalar(select(Feedback.id).where(Feedback.id == fb.id, scope)) is None:
        raise NotFound(N_("Feedback %(id)s does not exist."), id=feedback_id)
    return fb


def may_see_phone(user: User, fb: Feedback) -> bool:
    """Phone numbers (and e-mail addresses) are for the assignee and admins."""
    return "admin" in user.role_set or (fb.assignee_id is not None and fb.assignee_id == user.id)


def assign(session: Session, caller: Caller, feedback_id: int, user_id: int | None = None) -> Feedback:
    """Give a message to a colleague (or to oneself); answered and closed ones stay as they are."""
    fb = get(session, caller, feedback_id)
    if fb.state in ("answered", "closed"):
        raise Conflict(N_("This feedback has already been answered."))
    user = session.get(User, user_id or caller.user.id)
    if user is None or not user.active or not user.has_role(*STAFF):
        raise ValidationError(N_("Feedback can be assigned to an active editor or approver only."), field="user")
    fb.assignee_id, fb.state = user.id, "assigned"
    audit.record(session, caller, "feedback.assign", "feedback", fb.id, to=user.username)
    return fb


def reply(session: Session, caller: Caller, feedback_id: int, message: str) -> Feedback:
    """Answer a message (it is assigned to whoever answers if nobody had it)."""
    fb = get(session, caller, feedback_id)
    message = nfc(message or "").strip()
    if not message or len(message) > MAX_MESSAGE:
        raise ValidationError(N_("Write the answer (at most 2,000 characters)."), field="message")
    if fb.state == "closed":
        raise Conflict(N_("This feedback is closed."))
    if fb.assignee_id not in (None, caller.user.id) and "admin" not in caller.user.role_set:
        raise PermissionDenied(N_("This feedback is assigned to a colleague; ask them or an admin."))
    fb.assignee_id = fb.assignee_id or caller.user.id
    fb.answer, fb.answered_by_id, fb.answered_at, fb.state = message, caller.user.id, utcnow(), "answered"
    audit.record(session, caller, "feedback.reply", "feedback", fb.id)
    return fb


def close(session: Session, caller: Caller, feedback_id: int) -> Feedback:
    """Close a message (answered, or needing no answer: spam, thanks)."""
    fb = get(session, caller, feedback_id)
    fb.state, fb.closed_at = "closed", utcnow()
    audit.record(session, caller, "feedback.close", "feedback", fb.id)
    return fb


def published_answers(session: Session, work_id: int) -> list[Feedback]:
    """Questions with their answers that the citizens agreed to publish, oldest first."""
    return list(session.scalars(select(Feedback).where(
        Feedback.work_id == work_id, Feedback.publish.is_(True), Feedback.answer != "",
        or_(Feedback.state == "answered", Feedback.state == "closed")).order_by(Feedback.created_at)))


def count_for_work(session: Session, work_id: int) -> dict:
    """How many messages a work has, and how many still wait for an answer."""
    rows = dict(session.execute(select(Feedback.state, func.count()).where(Feedback.work_id == work_id)
                                .group_by(Feedback.state)).all())
    return {"total": sum(rows.values()), "open": rows.get("new", 0) + rows.get("assigned", 0)}


def as_json(fb: Feedback, viewer: User) -> dict:
    """A message as the API shows it to a member of staff (the phone only to the assignee and admins)."""
    return {"id": fb.id, "work_id": fb.work_id, "source": fb.source, "message": fb.message, "name": fb.name,
            "phone": fb.phone if may_see_phone(viewer, fb) else None, "language": fb.language,
            "email": fb.email if may_see_phone(viewer, fb) else None, "notify": fb.notify, "area_id": fb.area_id,
            "publish": fb.publish, "state": fb.state, "assignee": fb.assignee.username if fb.assignee else None,
            "answer": fb.answer or None,
            "answered_at": fb.answered_at.isoformat() + "Z" if fb.answered_at else None,
            "created_at": fb.created_at.isoformat() + "Z"}


def work_titles(session: Session, items: list[Feedback]) -> dict[int, str]:
    """The titles of the works these messages are about, by work id."""
    ids = {f.work_id for f in items}
    return dict(session.execute(select(Work.id, Work.title).where(Work.id.in_(ids))).all()) if ids else {}
