"""Machine translation engines behind one interface, registered by name and chosen by configuration.

An engine translates a batch of segments from one language to another (`translate(segments, src, dst)`).
A Router asks the configured engines in order for a direct pair, and otherwise pivots through English.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from media_pipeline.errors import EngineError
from media_pipeline.registry import Registry

log = logging.getLogger(__name__)

PIVOT = "en"


class Engine(Protocol):
    """A translation engine: `pairs()` says what it covers; `translate` keeps the order and count of segments."""

    name: str

    def pairs(self) -> set[tuple[str, str]]: ...

    def translate(self, segments: list[str], src: str, dst: str) -> list[str]: ...


class NoEngine(EngineError):
    """No configured engine translates this pair, directly or through English."""


@dataclass
class Route:
    """How a pair is reached: one step, or two through the pivot language."""

    steps: list[tuple[Engine, str, str]]

    def describe(self) -> str:
        """e.g. "argos vi→en, argos en→zh"."""
        return ", ".join(f"{e.name} {s}→{d}" for e, s, d in self.steps)


_REGISTRY = Registry("translation", ("media_pipeline.translate.argos", "media_pipeline.translate.libretranslate"))
register = _REGISTRY.register
registered = _REGISTRY.registered


class Router:
    """Pick an engine per pair (configuration order) and pivot through English where needed."""

    def __init__(self, engines: list[Engine]):
        self.engines = engines

    def pairs(self) -> set[tuple[str, str]]:
        """Every pair some engine translates directly."""
        return {p for e in self.engines for p in e.pairs()}

    def route(self, src: str, dst: str) -> Route:
        """The engines that carry src to dst, or NoEngine naming what is installed."""
        direct = self._engine_for(src, dst)
        if direct:
            return Route([(direct, src, dst)])
        if PIVOT not in (src, dst):
            first, second = self._engine_for(src, PIVOT), self._engine_for(PIVOT, dst)
            if first and second:
                return Route([(first, src, PIVOT), (second, PIVOT, dst)])
        installed = ", ".join(f"{s}→{d}" for s, d in sorted(self.pairs())) or "none"
        raise NoEngine(f"No machine translation from {src} to {dst} (installed pairs: {installed}). Install an "
                       f"Argos package with `studio models install FILE` or `studio models download {src} {dst}`, "
                       "configure a LibreTranslate server, or translate by hand.")

    def can(self, src: str, dst: str) -> bool:
        """Whether route() would succeed."""
        try:
            self.route(src, dst)
            return True
        except NoEngine:
            return False

    def translate(self, segments: list[str], src: str, dst: str) -> tuple[list[str], str]:
        """Translate segments (one batch per step); returns the targets and how they were made."""
        route = self.route(src, dst)
        texts = list(segments)
        for engine, s, d in route.steps:
            texts = engine.translate(texts, s, d)
            if len(texts) != len(segments):
                raise EngineError(f"{engine.name} returned {len(texts)} segments for {len(segments)}")
        return texts, route.describe()

    def _engine_for(self, src: str, dst: str) -> Engine | None:
        return next((e for e in self.engines if (src, dst) in e.pairs()), None)


def make_router(names: list[str], options: dict | None = None) -> Router:
    """The engines named in configuration, in order of preference, behind one Router."""
    return Router(_REGISTRY.make(names, options))
