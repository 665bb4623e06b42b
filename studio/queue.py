"""The background job queue (huey): SQLite by default, Redis by URL."""
from __future__ import annotations

import logging

from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

log = logging.getLogger(__name__)


def make_huey(url: str) -> Huey:
    """A huey instance for `sqlite:///path`, `redis://...` or `memory://` (tests: tasks run at once)."""
    if url.startswith("sqlite:///"):
        return SqliteHuey(name="studio", filename=url[len("sqlite:///"):])
    if url.startswith(("redis://", "rediss://")):
        return RedisHuey(name="studio", url=url)
    if url == "memory://":
        return MemoryHuey(name="studio", immediate=True)
    raise ValueError(f"STUDIO_QUEUE_URL must be sqlite:///PATH, redis://HOST or memory://, got {url!r}")


def check(huey: Huey) -> None:
    """Raise if the queue's storage cannot be read."""
    huey.pending_count()


class EmbeddedWorker:
    """A huey consumer running in threads inside `studio serve` (no signal handlers of its own)."""

    def __init__(self, huey: Huey, workers: int = 2):
        self.consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)

    def start(self) -> None:
        """Start the scheduler and worker threads."""
        self.consumer.start()

    def stop(self) -> None:
        """Ask workers to finish the task in hand and stop."""
        self.consumer.stop(graceful=True)
