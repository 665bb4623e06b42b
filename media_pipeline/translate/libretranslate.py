"""A LibreTranslate-compatible server by URL, for provinces that already run one."""
from __future__ import annotations

import logging
import time

import requests

from media_pipeline.errors import EngineError
from media_pipeline.translate import register

log = logging.getLogger(__name__)


@register
class LibreTranslateEngine:
    """POST /translate with all segments of a call in one request; GET /languages says which pairs exist."""

    name = "libretranslate"

    def __init__(self, url: str = "", api_key: str = "", timeout: float = 60, languages_ttl: float = 300):
        self.url, self.api_key, self.timeout, self.ttl = url.rstrip("/"), api_key, timeout, languages_ttl
        self._pairs: set[tuple[str, str]] = set()
        self._fetched: float | None = None  # never asked yet (monotonic time starts near 0 at boot)

    def pairs(self) -> set[tuple[str, str]]:
        """Pairs the server lists; none when no URL is set or the server does not answer."""
        if not self.url:
            return set()
        if self._fetched is None or time.monotonic() - self._fetched > self.ttl:
            try:
                langs = self._call("GET", "/languages")
                self._pairs = {(lang["code"], t) for lang in langs for t in lang.get("targets", [])
                               if t != lang["code"]}
            except EngineError as exc:
                log.warning("LibreTranslate languages unavailable: %s", exc)
                self._pairs = set()
            self._fetched = time.monotonic()
        return self._pairs

    def translate(self, segments: list[str], src: str, dst: str) -> list[str]:
        """One request for the whole batch."""
        if not segments:
            return []
        body = {"q": segments, "source": src, "target": dst, "format": "text"}
        if self.api_key:
            body["api_key"] = self.api_key
        out = self._call("POST", "/translate", json=body).get("translatedText")
        if isinstance(out, str):
            out = [out]
        if not isinstance(out, list) or len(out) != len(segments):
            raise EngineError(f"LibreTranslate at {self.url} returned an unexpected answer")
        return [str(t) for t in out]

    def _call(self, method: str, path: str, **kwargs):
        try:
            resp = requests.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise EngineError(f"LibreTranslate at {self.url} cannot be reached: {exc}") from None
        if resp.status_code != 200:
            try:
                detail = resp.json().get("error", resp.text)
            except ValueError:
                detail = resp.text[:200]
            raise EngineError(f"LibreTranslate at {self.url} answered {resp.status_code}: {detail}")
        try:
            return resp.json()
        except ValueError:
            raise EngineError(f"LibreTranslate at {self.url} did not answer JSON") from None
