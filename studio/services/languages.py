"""The language registry: codes, names, scripts, and what the studio can do in each language."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline.text.unicode import nfc
from media_pipeline.errors import EngineError
from media_pipeline.translate import Router
from media_pipeline.tts import Engine
from storage.models import Language
from studio.errors import N_, Conflict, NotFound, ValidationError
from studio.services import Caller, audit, voices
from studio.services.accounts import require_role

CODE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
SCRIPT_RE = re.compile(r"^[A-Z][a-z]{3}$")


def all_languages(session: Session) -> list[Language]:
    """Every registered language, Vietnamese first, then by English name."""
    rows = session.scalars(select(Language)).all()
    return sorted(rows, key=lambda lang: (lang.code != "vi", lang.name_en.lower()))


def get(session: Session, code: str, field: str | None = None) -> Language:
    """One language by code. An unknown code is NotFound when it names a resource (a URL) and, when `field`
    says it came in the request's data, a ValidationError naming that field."""
    lang = session.get(Language, code)
    if lang is None:
        message = N_("Language %(code)s is not in the registry; an admin can add it.")
        if field:
            raise ValidationError(message, field=field, code=code)
        raise NotFound(message, code=code)
    return lang


def add(session: Session, caller: Caller, data: dict) -> Language:
    """Register a language (admins)."""
    require_role(caller, "admin")
    data = nfc(dict(data))
    code = (data.get("code") or "").strip().lower()
    if not CODE_RE.match(code):
        raise ValidationError(N_("A language code is an ISO 639 code of 2 or 3 letters, e.g. vi, en, tyz."),
                              field="code")
    if session.get(Language, code) is not None:
        raise Conflict(N_("Language %(code)s is already registered."), field="code", code=code)
    names = {k: (data.get(k) or "").strip() for k in ("name_vi", "name_en")}
    for key, value in names.items():
        if not value or len(value) > 100:
            raise ValidationError(N_("Give the language's name in Vietnamese and in English."), field=key)
    script = (data.get("script") or "Latn").strip()
    if not SCRIPT_RE.match(script):
        raise ValidationError(N_("The script is an ISO 15924 code such as Latn, Hans, Laoo."), field="script")
    lang = Language(code=code, script=script, note=(data.get("note") or "").strip()[:300], **names)
    session.add(lang)
    audit.record(session, caller, "language.add", "language", code, name_en=lang.name_en)
    return lang


@dataclass
class Capabilities:
    """What the studio can do in one language, with the engines that do it."""

    translate_from: list[str] = field(default_factory=list)  # e.g. ["vi (argos)", "vi (argos via en)"]
    translate_to: list[str] = field(default_factory=list)
    speech: str = ""  # "espeak", "espeak as vi (approximate)", or "" (record a narration)
    recognition: bool = False

    @property
    def machine_translation(self) -> bool:
        return bool(self.translate_from or self.translate_to)


def _how(router: Router, src: str, dst: str) -> str | None:
    """"argos", "argos via en", or None when nothing translates src to dst."""
    try:
        route = router.route(src, dst)
    except EngineError:
        return None
    return route.steps[0][0].name + (" via en" if len(route.steps) > 1 else "")


def capabilities(session: Session, codes: list[str], router: Router | None, tts_engines: dict[str, Engine],
                 asr_languages: set[str]) -> dict[str, Capabilities]:
    """Capabilities of each language, given the configured engines."""
    out: dict[str, Capabilities] = {}
    for code in codes:
        cap = Capabilities(recognition=code.split("-")[0] in asr_languages)
        for other in codes if router is not None else []:
            if other != code:
                if how := _how(router, other, code):
                    cap.translate_from.append(f"{other} ({how})")
                if how := _how(router, code, other):
                    cap.translate_to.append(f"{other} ({how})")
        try:
            choice = voices.choose(session, code, tts_engines)
            cap.speech = choice.engine + (f" ~{choice.language}" if choice.approximate else "")
        except (EngineError, voices.VoiceMissing):
            cap.speech = ""
        out[code] = cap
    return out
