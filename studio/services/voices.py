"""Admin-editable data for speech: the voice of each language, approximate mappings, reading rules.

Channel profiles and their overrides are in the channel registry (`studio/services/channels.py`)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sqlalchemy.orm import Session

from media_pipeline.render import VoiceChoice
from media_pipeline.text import normalize_vi
from media_pipeline.text.unicode import nfc
from media_pipeline.tts import Engine
from storage.models import Setting
from studio.errors import N_, NotFound, ValidationError
from studio.services import Caller, audit
from studio.services.accounts import require_role
from studio.services.works import LANG_RE

# Offline defaults: eSpeak NG speaks these; admins may switch a language to gTTS or Piper.
DEFAULT_VOICES = {
    "vi": {"engine": "espeak", "voice": "vi", "speed": 1.0},
    "en": {"engine": "espeak", "voice": "en", "speed": 1.0},
    "zh": {"engine": "espeak", "voice": "cmn-latn-pinyin", "speed": 1.0},
}
# No language is read by another's voice until an administrator maps it on the voices page (Tày and Nùng, written
# in a Vietnamese-based alphabet, are often mapped to vi): a guessed reading is worse than a clear "no voice".
DEFAULT_MAPPINGS: dict[str, str] = {}


def _get(session: Session, key: str) -> dict:
    row = session.get(Setting, key)
    return dict(row.value) if row else {}


def _put(session: Session, caller: Caller, key: str, value: dict, roles: tuple[str, ...] = ("admin",)) -> None:
    require_role(caller, *roles)
    row = session.get(Setting, key)
    before = dict(row.value) if row else {}
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    audit.record(session, caller, "settings.update", "setting", key, before=before, after=value)


def voice_table(session: Session) -> dict[str, dict]:
    """Engine, voice and speed per language."""
    return {**DEFAULT_VOICES, **_get(session, "voices")}


def mappings(session: Session) -> dict[str, str]:
    """Language -> language whose voice reads it approximately."""
    return {**DEFAULT_MAPPINGS, **_get(session, "voice_map")}


def set_voice(session: Session, caller: Caller, language: str, engine: str, voice: str | None, speed: float) -> None:
    """Choose the engine, voice (accent) and speed for a language."""
    if not 0.5 <= speed <= 2.0:
        raise ValidationError(N_("Speed must be between 0.5 and 2."), field="speed")
    if not LANG_RE.match(language or ""):
        raise ValidationError(N_("%(lang)s is not a language code such as vi, en or zh."), field="language",
                              lang=language)
    table = _get(session, "voices")
    table[language] = {"engine": engine, "voice": voice or None, "speed": speed}
    _put(session, caller, "voices", table, roles=("editor",))


def set_mapping(session: Session, caller: Caller, language: str, read_as: str | None) -> None:
    """Let a language be read by another language's voice (marked approximate), or remove that."""
    table = _get(session, "voice_map")
    if read_as:
        table[language] = read_as
    else:
        table.pop(language, None)
    _put(session, caller, "voice_map", table)


class VoiceMissing(ValidationError):
    """No configured voice speaks the language (a person can act on it: record, or map the language)."""

    code = "no_voice"


def choose(session: Session, language: str, engines: dict[str, Engine]) -> VoiceChoice:
    """The voice for a language, through a mapping if needed; VoiceMissing says what can be done instead."""
    table = voice_table(session)
    spoken_as, approximate = language, False
    if language not in table and language in mappings(session):
        spoken_as, approximate = mappings(session)[language], True
    entry = table.get(spoken_as)
    if entry and entry["engine"] in engines:
        return VoiceChoice(entry["engine"], entry.get("voice"), spoken_as, float(entry.get("speed", 1.0)),
                           approximate)
    speakable = sorted(lang for lang, e in table.items() if e["engine"] in engines)
    raise VoiceMissing(N_("No voice speaks %(language)s. Languages that can be synthesized: %(available)s. "
                          "Upload a recorded narration for %(language)s, or ask an admin to map it to a voice of "
                          "a related language."), field="language", language=language,
                       available=", ".join(speakable))


SAMPLE_TEXT = {
    "vi": "Xin chào bà con. Đây là giọng đọc thử của đài truyền thanh xã.",
    "en": "Hello everyone. This is a sample of the commune loudspeaker voice.",
    "zh": "大家好。这是广播的试听声音。",
}


def sample(engine: Engine, voice_id: str, folder: Path) -> Path:
    """A short WAV of an installed voice reading a sentence in its language (made once, kept in `folder`)."""
    from media_pipeline.tts import SynthesisRequest
    voice = next((v for v in engine.voices() if v.id == voice_id), None)
    if voice is None:
        raise NotFound(N_("There is no voice %(voice)s in %(engine)s."), voice=voice_id, engine=engine.name)
    language = voice.language.split("-")[0].split("_")[0]
    key = hashlib.sha256(f"{engine.name}|{engine.version()}|{voice_id}|{SAMPLE_TEXT.get(language)}".encode())
    out = Path(folder) / f"voice-sample-{key.hexdigest()[:16]}.wav"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".part.wav")
        text = SAMPLE_TEXT.get(language, SAMPLE_TEXT["vi"])
        engine.synthesize(SynthesisRequest(normalize_vi.normalize(text) if language == "vi" else text, language,
                                           voice_id, 1.0), tmp)
        os.replace(tmp, out)
    return out


def reading_rules(session: Session) -> dict:
    """The province's own reading rules (abbreviations, units...), laid over the packaged ones; in the database,
    so every worker reads the same."""
    return _get(session, "reading_rules")


def reading_rules_text(session: Session) -> str:
    """The province's reading rules as the JSON the settings page edits."""
    return json.dumps(reading_rules(session) or {"abbreviations": {}}, ensure_ascii=False, indent=2)


def save_reading_rules(session: Session, caller: Caller, text: str) -> None:
    """Check and save the province's reading rules (editors and admins extend what the reading knows)."""
    require_role(caller, "editor", "admin")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError(N_("The rules are not valid JSON: %(why)s."), field="rules", why=str(exc)) from None
    if not isinstance(data, dict) or any(k not in normalize_vi.SECTIONS for k in data):
        raise ValidationError(N_("The rules must be an object whose keys are among: %(keys)s."), field="rules",
                              keys=", ".join(normalize_vi.SECTIONS))
    for section, entries in data.items():
        if not isinstance(entries, dict) or not all(isinstance(k, str) and isinstance(v, str) and k.strip()
                                                    for k, v in entries.items()):
            raise ValidationError(N_("Section %(s)s must map written forms to spoken words."), field="rules",
                                  s=section)
    _put(session, caller, "reading_rules", nfc(data), roles=("editor", "admin"))


def reads_as(session: Session, language: str) -> str:
    """The language whose voice reads `language` (itself, or the one an admin mapped it to)."""
    return language if language in voice_table(session) else mappings(session).get(language, language)


def spoken(session: Session, language: str, sentences: list[str]) -> list[str]:
    """What the voice will read for each sentence: Vietnamese, and languages a Vietnamese voice reads, go
    through the normaliser with the province's rules; other languages are read as written."""
    if reads_as(session, language) != "vi":
        return list(sentences)
    rules = reading_rules(session)
    return [normalize_vi.normalize(x, rules) for x in sentences]
