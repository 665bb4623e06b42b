"""When each endpoint was last seen, written in batches: a poll costs no database write.

Thousands of endpoints poll their feed; writing `last_seen_at` on each poll would make the commonest request a
write, and on SQLite every write waits for the one writer lock the editors need too. Polls record the endpoint
here in memory (`saw`); a thread of the server writes what was seen every few seconds in one statement
(`flush`). Where no server runs the thread (the test client, a command), `saw` writes at once.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import bindparam, or_, update
from sqlalchemy.engine import Engine

from storage.models import Endpoint, utcnow

log = logging.getLogger(__name__)

_SEEN = (update(Endpoint).where(Endpoint.id == bindparam("eid"),
                                or_(Endpoint.last_seen_at.is_(None), Endpoint.last_seen_at < bindparam("at")))
         .values(last_seen_at=bindparam("at")).execution_options(synchronize_session=False))


class Sightings:
    """Endpoints seen since the last flush; `start()` flushes every `interval_s` until `stop()`."""

    def __init__(self, engine: Engine, interval_s: float = 10.0):
        self.engine, self.interval_s = engine, interval_s
        self._seen: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def saw(self, endpoint_id: int, at: datetime | None = None) -> None:
        """The endpoint was heard from now (or `at`)."""
        at = at or utcnow()
        with self._lock:
            self._seen[endpoint_id] = at
        if self._thread is None:
            self.flush()

    def flush(self) -> int:
        """Write what was seen since the last flush in one statement; returns how many endpoints."""
        with self._lock:
            seen, self._seen = self._seen, {}
        if not seen:
            return 0
        try:
            with self.engine.begin() as conn:
                conn.execute(_SEEN, [{"eid": eid, "at": at} for eid, at in seen.items()])
        except Exception:  # noqa: BLE001 - the database may be briefly unavailable: keep them for the next flush
            log.warning("recording %s endpoints as seen failed; trying again", len(seen), exc_info=True)
            with self._lock:
                for eid, at in seen.items():
                    self._seen.setdefault(eid, at)
            return 0
        return len(seen)

    def start(self) -> "Sightings":
        """Flush in a thread from now on (the server)."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="endpoint-sightings", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self.flush()

    def stop(self) -> None:
        """Stop the thread and write what is left."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(timeout=10)
        self.flush()
