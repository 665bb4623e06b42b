"""The admin's first-run checklist: what a new studio needs before its first bulletin reaches a commune.

Each step ticks itself off from what is in the database, so there is nothing to mark by hand and nothing to
forget: the province and at least one commune under it, people to write and to approve (not the admin alone),
at least one distribution endpoint, and voices chosen for the languages (the settings saved once, after
listening to the samples on the voices page).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Area, Endpoint, Setting, User
from studio.errors import N_


@dataclass(frozen=True)
class Step:
    key: str
    title: str        # English message id; the web layer translates
    hint: str
    done: bool


def steps(session: Session) -> list[Step]:
    """The four steps in the order to take them."""
    levels = dict(session.execute(select(Area.level, func.count()).group_by(Area.level)).all())
    people = session.scalars(select(User.roles).where(User.active.is_(True))).all()
    writers = sum(1 for r in people if "editor" in r.split(","))
    approvers = sum(1 for r in people if "approver" in r.split(","))
    endpoints = session.scalar(select(func.count()).select_from(Endpoint).where(Endpoint.active.is_(True)))
    voices = session.get(Setting, "voices") is not None
    return [
        Step("areas", N_("Province and communes"),
             N_("Add the province, then its districts and communes: works and endpoints are aimed at them."),
             bool(levels.get("province")) and bool(levels.get("commune"))),
        Step("people", N_("People and roles"),
             N_("Give accounts to the people who write, translate and approve; at least one editor and one "
                "approver."), writers > 0 and approvers > 0),
        Step("endpoints", N_("Endpoints"),
             N_("Register the loudspeakers, e-boards, screens and kiosks; each gets a token for its feed."),
             bool(endpoints)),
        Step("voices", N_("Voices and models"),
             N_("Listen to the installed voices and choose one per language; install Piper voices and the "
                "speech-recognition model where the server has them."), voices),
    ]
