"""Editorial workflow: draft -> submitted -> approved -> published, changes requested, retraction."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Rendition, Work, utcnow
from studio.errors import N_, Conflict, PermissionDenied, ValidationError
from studio.services import Caller, audit, packages, translations, works
from studio.services.accounts import require_role

# action: (states it may start from, state it leads to, role needed, reason required)
TRANSITIONS = {
    "submit": ({"draft"}, "submitted", "editor", False),
    "request_changes": ({"submitted", "approved"}, "draft", "approver", True),
    "approve": ({"submitted"}, "approved", "approver", False),
    # Publishing a published work again makes a new package of the same approved revision, with the files
    # of endpoints registered since (see packages.prepare).
    "publish": ({"approved", "published"}, "published", "approver", False),
    "retract": ({"published"}, "retracted", "approver", True),
}


def allowed_actions(work: Work, user) -> list[str]:
    """Actions this user may take on the work now (for buttons; the server checks again)."""
    out = []
    for name in TRANSITIONS:
        try:
            _check(work, Caller(user), name)
        except (PermissionDenied, Conflict):
            continue
        out.append(name)
    return out


def _check(work: Work, caller: Caller, action: str) -> str:
    if action not in TRANSITIONS:
        raise ValidationError(N_("Unknown action: %(a)s."), field="action", a=action)
    sources, target, role, _ = TRANSITIONS[action]
    require_role(caller, role)
    if action == "retract" and work.published_revision is not None:
        return target
    if work.state not in sources:
        raise Conflict(N_("A work in state '%(state)s' cannot be %(action)s."), state=work.state, action=action)
    if action == "approve":
        # Everyone who wrote a revision since the last approval is an author of what is being approved.
        since = work.approved_revision or work.published_revision or 0
        writers = {r.author_id for r in work.revisions if r.number > since}
        if work.author_id == caller.user.id or caller.user.id in writers:
            raise PermissionDenied(N_("You cannot approve a work you wrote or edited since its last approval; "
                                      "another approver must do it."))
    return target


def _require_approved_translations(session: Session, work: Work) -> None:
    """Renditions in a language may be published only while its translation is approved."""
    rendered = set(session.scalars(select(Rendition.language).where(Rendition.work_id == work.id)))
    waiting = translations.unapproved_with_renditions(session, work.id, rendered)
    if waiting:
        raise Conflict(N_("The translation into %(langs)s changed after approval; approve it again before "
                          "publishing."), langs=", ".join(waiting))


def transition(session: Session, caller: Caller, work_id: int, action: str, reason: str = "",
               expected_version: int | None = None) -> Work:
    """Move a work to its next state, recording who, why and which revision."""
    work = works.get(session, work_id)
    if expected_version is not None and works.as_version(expected_version) != work.version:
        raise Conflict(N_("This work changed since you opened it; reload and try again."))
    target = _check(work, caller, action)
    reason = (reason or "").strip()
    if TRANSITIONS[action][3] and not reason:
        raise ValidationError(N_("Give a reason."), field="reason")
    if action == "publish":
        _require_approved_translations(session, work)
    before = work.state
    if action == "approve":
        work.approved_revision, work.approved_by_id = work.current_revision, caller.user.id
    elif action == "publish":
        work.published_revision, work.published_at = work.approved_revision, utcnow()
        packages.prepare(session, caller, work)
    elif action == "retract":
        work.published_revision = None
        packages.retract(session, caller, work, reason)
    elif action == "request_changes":
        work.approved_revision = None
    if action == "retract" and before != "published":
        target = before  # an edited draft stays a draft; only the published revision is withdrawn
    work.state = target
    work.version += 1
    audit.record(session, caller, f"work.{action}", "work", work.id, state=[before, work.state],
                 revision=work.current_revision, reason=reason)
    return work
