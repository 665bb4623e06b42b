"""Engines register themselves by name; configuration picks among those whose dependencies imported."""
from __future__ import annotations

import importlib

from media_pipeline.errors import EngineError


class Registry:
    """Engine classes of one kind (speech, translation), filled by the `register` decorator of their modules."""

    def __init__(self, kind: str, modules: tuple[str, ...]):
        self.kind, self.modules = kind, modules
        self._classes: dict[str, type] = {}

    def register(self, cls: type) -> type:
        """Class decorator: make an engine available under its `name`."""
        self._classes[cls.name] = cls
        return cls

    def registered(self) -> dict[str, type]:
        """Engines whose modules imported (a module whose optional dependency is missing registers nothing)."""
        for module in self.modules:
            importlib.import_module(module)
        return dict(self._classes)

    def make(self, names: list[str], options: dict | None = None) -> list:
        """Instantiate the engines named in configuration, in order of preference."""
        reg = self.registered()
        out = []
        for n in names:
            if n not in reg:
                raise EngineError(f"{self.kind} engine {n!r} is not available; installed: {', '.join(sorted(reg))}")
            out.append(reg[n](**(options or {}).get(n, {})))
        return out
