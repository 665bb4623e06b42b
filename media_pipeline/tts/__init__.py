"""Speech synthesis engines behind one interface, registered by name and chosen by configuration."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from media_pipeline.errors import EngineError

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


_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make an engine available under its `name`."""
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> dict[str, type]:
    """Engines whose dependencies imported (a missing optional one simply is not here)."""
    from media_pipeline.tts import espeak, gtts_engine, piper  # noqa: F401 - registration side effect
    return dict(_REGISTRY)


def make_engines(names: list[str], options: dict | None = None) -> list[Engine]:
    """Instantiate the engines named in configuration, in order of preference."""
    reg = registered()
    out = []
    for n in names:
        if n not in reg:
            raise EngineError(f"speech engine {n!r} is not available; installed: {', '.join(sorted(reg))}")
        out.append(reg[n](**(options or {}).get(n, {})))
    return out
