"""What each channel and endpoint needs, with the admins' profile changes: the service face of the registry.

The data (channels, profiles, endpoint kinds, derived sizes) and its validation live in
`media_pipeline/profiles.py`; this module stores admins' overrides as the `profiles` setting and answers,
from the registered endpoints, which renditions a work needs and which endpoints still lack a fitting file.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline import profiles as registry
from media_pipeline.errors import EngineError
from media_pipeline.profiles import Profile, ProfileInvalid
from storage.models import Endpoint, Rendition, Setting, Translation, Work
from studio.errors import N_, ValidationError
from studio.services import Caller, areas, audit
from studio.services.accounts import require_role


def profiles(session: Session) -> dict[str, Profile]:
    """Default channel profiles with the admins' changes applied."""
    row = session.get(Setting, "profiles")
    return registry.effective(dict(row.value) if row else {})


def profile(session: Session, name: str) -> Profile | None:
    """A profile by name, including one derived for a display size (`eboard-1280x720`)."""
    return registry.resolve(profiles(session), name)


def save_profile(session: Session, caller: Caller, name: str, changes: dict) -> Profile:
    """Change a profile (or add one); impossible settings are refused with the reason."""
    require_role(caller, "admin")
    current = profiles(session)
    base = current[name].to_dict() if name in current else {"name": name}
    changed = Profile.from_dict({**base, **changes, "name": name})
    try:
        changed.validate_settings()
    except ProfileInvalid as exc:  # the setting by its code: the web layer says it in the reader's words
        raise ValidationError(REFUSALS[exc.rule], field=exc.setting, setting=exc.setting, value=exc.value,
                              low=exc.low, high=exc.high, allowed=", ".join(map(str, exc.allowed))) from exc
    row = session.get(Setting, "profiles")
    before = dict(row.value) if row else {}
    stored = {**before, name: {**before.get(name, {}), **changes}}
    if row is None:
        session.add(Setting(key="profiles", value=stored))
    else:
        row.value = stored
    audit.record(session, caller, "settings.update", "setting", "profiles", before=before, after=stored)
    return changed


# Why a profile's setting is refused, by ProfileInvalid.rule.
REFUSALS = {"range": N_("%(setting)s must be between %(low)s and %(high)s; %(value)s is not."),
            "even": N_("%(setting)s must be an even number for H.264 video; %(value)s is not."),
            "choice": N_("%(setting)s must be one of %(allowed)s; %(value)s is not.")}


def check_display(kind: str, display: str) -> str:
    """A display for an endpoint of this kind, normalised ("" when it has none); ValidationError otherwise."""
    display = (display or "").strip().lower()
    if not display:
        return ""
    size = registry.parse_display(display)
    if size is None:
        raise ValidationError(N_("The display is WIDTHxHEIGHT in pixels, e.g. 1920x1080."), field="display")
    if not registry.ENDPOINT_KINDS[kind].screen:
        raise ValidationError(N_("A %(kind)s endpoint has no screen: leave the display empty."), field="display",
                              kind=kind)
    try:
        registry.for_display(registry.DEFAULTS, "eboard", *size)  # checks the size only
    except EngineError:
        raise ValidationError(N_("A display from 16x16 to 7680x4320 with an even width and height is needed "
                                 "(H.264 video), not %(display)s."), field="display", display=display) from None
    return f"{size[0]}x{size[1]}"


@dataclass(frozen=True)
class Need:
    """One rendition a work needs: a language and a profile, for the channel's defaults or for an endpoint."""

    language: str
    profile: str
    channel: str
    endpoint_id: int | None = None  # None: one of the channel's defaults
    optional: bool = False  # publishing goes ahead without it (an emergency's audio in another language)


def approved_languages(session: Session, work: Work) -> list[str]:
    """The source language and the languages of approved translations."""
    return [work.source_language] + sorted(session.scalars(select(Translation.language).where(
        Translation.work_id == work.id, Translation.state == "approved",
        Translation.language != work.source_language)))


def reached(session: Session, work: Work) -> list[Endpoint]:
    """Active endpoints the work's areas reach: an endpoint takes its area's and the areas above it's works;
    an endpoint without an area, and a work without areas, reach everywhere."""
    codes = {a.code for a in work.areas}
    return [ep for ep in session.scalars(select(Endpoint).where(Endpoint.active.is_(True)).order_by(Endpoint.name))
            if not codes or ep.area is None or areas.chain(ep.area) & codes]


def endpoint_profiles(table: dict[str, Profile], ep: Endpoint, work_channels: list[str]) -> list[Profile]:
    """The profiles whose files an endpoint plays, among the work's channels."""
    kind = registry.ENDPOINT_KINDS.get(ep.kind)
    size = registry.parse_display(ep.display)
    out = []
    for ch in kind.channels if kind else ():
        if ch not in work_channels:
            continue
        if registry.CHANNELS[ch].sized and size:
            out.append(registry.for_display(table, ch, *size))
        else:  # no display, or a channel without sizes: its default profiles (videos only fit displays)
            out += [p for p in registry.channel_profiles(table, ch)
                    if not (size and p.kind == "video" and (p.width, p.height) != size)]
    return out


def _wanted(table: dict[str, Profile], ep: Endpoint, work: Work, approved: list[str]) -> list[tuple[str, Profile]]:
    """(language, profile) pairs an endpoint plays of the work: its display's profiles in each of its approved
    languages (the source language for an endpoint that names none)."""
    langs = [x for x in ep.languages if x in approved] if ep.languages else [work.source_language]
    return [(lang, p) for p in endpoint_profiles(table, ep, work.channels or []) for lang in langs]


def needs(session: Session, work: Work, languages: list[str] | None = None) -> list[Need]:
    """Every rendition the work needs: its channels' default profiles in the source language (an emergency's
    loudspeaker audio in every approved language, for its CAP document), and for each endpoint it reaches, the profile of its display in each of its languages that is approved (the source
    language for an endpoint that names none). `languages` narrows the answer."""
    table = profiles(session)
    approved = approved_languages(session, work)
    out: dict[tuple[str, str], Need] = {}
    for ch in work.channels or []:
        if ch in registry.CHANNELS:
            for p in registry.channel_profiles(table, ch):
                out.setdefault((work.source_language, p.name), Need(work.source_language, p.name, ch))
    if work.priority == "emergency" and "loudspeaker" in (work.channels or []):
        # An emergency's CAP document gives each language its audio (services/cap_out.py).
        for lang in approved:
            for p in registry.channel_profiles(table, "loudspeaker"):
                out.setdefault((lang, p.name), Need(lang, p.name, "loudspeaker",
                                                    optional=lang != work.source_language))
    for ep in reached(session, work):
        for lang, p in _wanted(table, ep, work, approved):
            out.setdefault((lang, p.name), Need(lang, p.name, p.channel, ep.id))
    return [n for n in out.values() if languages is None or n.language in languages]


def coverage(session: Session, work: Work) -> list[dict]:
    """For each endpoint the work reaches, the renditions of the approved revision (the current one before
    approval) made for it and those it still lacks:
    [{"endpoint", "files": [(language, profile)], "lacking": [(language, profile)], "no_language": bool}]."""
    table = profiles(session)
    revision = work.approved_revision or work.current_revision
    have = set(session.execute(select(Rendition.language, Rendition.profile).where(
        Rendition.work_id == work.id, Rendition.revision == revision)).all())
    approved = approved_languages(session, work)
    out = []
    for ep in reached(session, work):
        wanted = [(lang, p.name) for lang, p in _wanted(table, ep, work, approved)]
        out.append({"endpoint": ep, "files": [w for w in wanted if w in have],
                    "lacking": [w for w in wanted if w not in have],
                    "no_language": bool(ep.languages) and not set(ep.languages) & set(approved)})
    return out


def save_jingle(session: Session, store, caller: Caller, profile_name: str, which: str, path: str | None) -> Profile:
    """Set (or with path None, remove) a profile's intro or outro jingle; the file must be audio."""
    import hashlib

    from media_pipeline import probe
    from media_pipeline.errors import InvalidMedia
    from studio.errors import UnsupportedMedia
    require_role(caller, "admin")
    if which not in ("intro", "outro"):
        raise ValidationError(N_("A jingle is an intro or an outro."), field="which")
    if profile_name not in profiles(session):
        raise ValidationError(N_("Unknown channel profile %(p)s."), field="profile", p=profile_name)
    if path is None:
        return save_profile(session, caller, profile_name, {which: ""})
    try:
        info = probe.probe(path)
    except InvalidMedia as exc:
        raise UnsupportedMedia(N_("A jingle must be an audio recording (%(why)s)."), field="file",
                               why=str(exc)) from exc
    if info.video or not info.audio:
        raise UnsupportedMedia(N_("A jingle must be an audio recording (%(why)s)."), field="file", why="video")
    if info.duration_s > 30:
        raise ValidationError(N_("A jingle lasts at most 30 seconds; this one lasts %(s)s."), field="file",
                              s=round(info.duration_s))
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    key = f"jingles/{digest}"
    store.put_file(key, path, content_type="application/octet-stream")
    return save_profile(session, caller, profile_name, {which: key})
