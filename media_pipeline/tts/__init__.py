"""Speech synthesis engines behind one interface, registered by name and chosen by configuration."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from media_pipeline.errors import EngineError
from media_pipeline.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Voice:
    """One voice an engine offers: `id` is what synthesize() takes."""

    id: str
    language: str
    name: str
    accent: str = ""


@dataclass
class SynthesisRequest:
    """What to say and how."""

    text: str
    language: str
    voice: str | None = None
    speed: float = 1.0  # 1.0 = the engine's normal rate
    options: dict = field(default_factory=dict)


class Engine(Protocol):
    """A speech engine: offline ones answer at once, online ones may raise EngineError."""

    name: str

    def version(self) -> str: ...

    def voices(self) -> list[Voice]: ...

    def synthesize(self, req: SynthesisRequest, out_wav: Path) -> Path: ...


class NoVoice(EngineError):
    """No configured engine speaks this language."""


_REGISTRY = Registry("speech", ("media_pipeline.tts.espeak", "media_pipeline.tts.gtts_engine",
                                 "media_pipeline.tts.piper"))
register = _REGISTRY.register
registered = _REGISTRY.registered


def make_engines(names: list[str], options: dict | None = None) -> list[Engine]:
    """Instantiate the engines named in configuration, in order of preference."""
    return _REGISTRY.make(names, options)
