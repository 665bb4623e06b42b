"""Job workers: the app's job runtime and the pool of threads that claim jobs from the database in lane order, wired to the app's configuration.

STUDIO_QUEUE_URL chooses how workers hear of new jobs (the jobs table is the queue in every case):
- "" (default; `sqlite:///...` from older settings means the same): workers poll the database every second,
  and workers in the same process are woken at once;
- `redis://host:port/db`: a notice on Redis pub/sub also wakes workers in other processes (`studio worker`);
- `memory://` (tests): each commit that creates jobs runs them to their end in the committing thread.

A pool has `reserved` threads that take only emergency and delivery jobs (ranks 0-1) and `workers` threads
that take everything, emergencies first; a sweeper thread takes back jobs whose worker stopped heartbeating.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from studio.errors import N_, StudioError
from studio import jobs

log = logging.getLogger(__name__)
WAKE_CHANNEL = "studio:jobs:wake"
_tls = threading.local()


class ResourceMissing(StudioError):
    """A job needs something this process was not given (an object store): the job fails with that reason."""

    status = 503
    code = "resource_missing"


def mt_router(app: Flask):
    """Machine translation engines for this process, in configured order, built once on first use."""
    router = app.extensions.get("mt_router")
    if router is None:
        from media_pipeline.translate import make_router
        names = [n.strip() for n in app.config["MT_ENGINES"].split(",") if n.strip()]
        router = make_router(names, {"argos": {"models_dir": app.config["TRANSLATION_MODELS"]},
                                     "libretranslate": {"url": app.config["LIBRETRANSLATE_URL"],
                                                        "api_key": app.config["LIBRETRANSLATE_KEY"]}})
        app.extensions["mt_router"] = router
    return router


def cap_poll_settings(app: Flask):
    """The CAP sources this studio polls, from its configuration."""
    from studio.services.cap_sources import Settings
    return Settings(urls=tuple(app.config["CAP_SOURCES"]), interval_s=app.config["CAP_POLL_SECONDS"],
                    channels=tuple(c.strip() for c in app.config["CAP_CHANNELS"].split(",") if c.strip()))


def resources(app: Flask) -> Callable[[str], Any]:
    """What job handlers may ask for by name, each built once per process on first use."""
    built: dict[str, Any] = app.extensions.setdefault("job_resources", {})
    lock = app.extensions.setdefault("job_resources_lock", threading.Lock())

    def workdir() -> str:
        path = Path(app.config["INSTANCE"]) / "tmp" / "render"
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def make(name: str) -> Any:
        if name == "store":
            if "objectstore" not in app.extensions:
                raise ResourceMissing(N_("This worker has no object store: an administrator must set "
                                         "STUDIO_S3_URL for it, or run it beside `studio serve` on the same "
                                         "instance."))
            return app.extensions["objectstore"]
        if name == "render":
            from media_pipeline.tts import make_engines
            from studio.services.rendering import RenderConfig
            names = [n.strip() for n in app.config["TTS_ENGINES"].split(",") if n.strip()]
            engines = make_engines(names, {"piper": {"models_dir": app.config["PIPER_MODELS"]}})
            return RenderConfig(engines={e.name: e for e in engines}, workdir=workdir(),
                                public_url=app.config["PUBLIC_URL"])
        if name == "whisper":
            from studio.services.transcripts import Whisper
            return Whisper(model=app.config["WHISPER_MODEL"], cache=app.config["MODEL_CACHE"],
                           beam=app.config["WHISPER_BEAM"], cer_threshold=app.config["CER_THRESHOLD"],
                           workdir=workdir())
        if name == "translator":
            return mt_router(app)
        if name == "cap":
            from studio.services.cap_out import Settings
            return Settings(sender=app.config["CAP_SENDER"], public_url=app.config["PUBLIC_URL"])
        if name == "cap_sources":
            return cap_poll_settings(app)
        if name == "app":
            return app
        if name == "mail":
            from studio.services.mail import Settings as MailSettings
            return MailSettings(url=app.config["SMTP_URL"], sender_name=app.config["SITE_TITLE"])
        raise KeyError(f"no job resource named {name!r}")

    def get(name: str) -> Any:
        with lock:
            if name not in built:
                built[name] = make(name)
            return built[name]
    return get


class Runtime:
    """The app's side of the job system: wake-ups, inline runs for tests, and the worker pool if started."""

    def __init__(self, app: Flask):
        self.app = app
        url = app.config.get("QUEUE_URL") or ""
        self.inline = url == "memory://"
        self.redis_url = url if url.startswith(("redis://", "rediss://")) else ""
        if url and not (self.inline or self.redis_url or url.startswith("sqlite:///") or url == "database"):
            raise ValueError(f"STUDIO_QUEUE_URL must be empty, redis://HOST or memory://, got {url!r}")
        self.wake = threading.Condition()
        self.pool: WorkerPool | None = None
        self._redis = None

    def redis(self):
        if self._redis is None:
            import redis
            self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=5)
        return self._redis

    def check(self) -> None:
        """Raise if the wake-up channel cannot be reached (the health page)."""
        if self.redis_url:
            self.redis().ping()

    def notify(self, ranks: set[int]) -> None:
        """New runnable jobs were committed: run them here (memory://) or wake workers."""
        if self.inline:
            self.drain()
            return
        with self.wake:
            self.wake.notify_all()
        if self.redis_url:
            try:
                self.redis().publish(WAKE_CHANNEL, str(min(ranks)))
            except Exception:  # noqa: BLE001 - workers poll too
                log.warning("could not wake workers over Redis", exc_info=True)

    def drain(self) -> None:
        """Run every due job in this thread until none is left (memory:// only: tests)."""
        if getattr(_tls, "draining", False):
            return  # the outer drain's loop claims what this commit released
        from studio.extensions import db
        _tls.draining = True
        try:
            with Session(db.engine) as session:
                jobs.Loop(session, resources(self.app), heartbeat_s=self.app.config["JOB_HEARTBEAT_SECONDS"]).run()
        finally:
            _tls.draining = False


def _notify(ranks: set[int]) -> None:
    """The jobs module's after-commit notifier: the current app's runtime, if any."""
    if has_app_context():
        runtime = current_app.extensions.get("jobs")
        if runtime is not None:
            runtime.notify(ranks)


# The services whose job handlers this studio runs (each registers its own with @jobs.handler).
HANDLER_MODULES = ("studio.services.rendering", "studio.services.packages", "studio.services.feeds", "studio.services.transcripts",
                   "studio.services.translations", "studio.services.cap_sources",
                   "studio.services.mail", "studio.web.site_export")


def init_app(app: Flask) -> None:
    """Import the job handlers' modules, attach the job runtime to the app, install the after-commit notifier."""
    import importlib
    for name in app.config.get("JOB_HANDLERS") or HANDLER_MODULES:
        importlib.import_module(name)
    app.extensions["jobs"] = Runtime(app)
    jobs.set_notifier(_notify)
    jobs.install_hooks()


class WorkerPool:
    """Worker threads in lane order, a sweeper and (with Redis) a wake-up listener, stoppable within seconds."""

    def __init__(self, app: Flask, workers: int = 2, reserved: int = 1, poll_s: float = 1.0):
        self.app, self.workers, self.reserved, self.poll_s = app, workers, reserved, poll_s
        self.runtime: Runtime = app.extensions["jobs"]
        self.watchdog = app.extensions["watchdog"]
        self.idle_limit_s = max(30.0, 10 * poll_s)  # a thread waiting for work beats every poll_s
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.running: dict[int, jobs.Running] = {}
        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._stopped: list[int] | None = None

    def recover(self) -> list[int]:
        """Take back jobs left running by a worker that died; returns their ids."""
        from studio.extensions import db
        with self.app.app_context(), Session(db.engine) as session:
            return jobs.sweep(session, self.app.config["JOB_STALE_SECONDS"])

    def start(self) -> "WorkerPool":
        """Start the threads."""
        self.runtime.pool = self
        specs = [(f"urgent-{i}", jobs.URGENT_MAX_RANK) for i in range(self.reserved)]
        specs += [(f"worker-{i}", None) for i in range(self.workers)]
        for name, max_rank in specs:
            self._spawn(name, self._work, max_rank)
        self._spawn("sweeper", self._sweep)
        self._start_polling()
        if self.runtime.redis_url:
            self._spawn("wake-listener", self._listen)
        return self

    def _start_polling(self) -> None:
        """Queue the CAP sources' poll job if sources are configured and none is queued."""
        from studio.extensions import db
        from studio.services import cap_sources
        settings = cap_poll_settings(self.app)
        if settings.urls:
            with self.app.app_context(), Session(db.engine) as session:
                cap_sources.ensure_polling(session, settings)
                session.commit()

    def _spawn(self, name: str, target, *args) -> None:
        t = threading.Thread(target=target, args=args, name=f"jobs-{name}", daemon=True)
        self.watchdog.register(t.name, self.idle_limit_s)
        t.start()
        self.threads.append(t)

    def _beat(self, limit_s: float | None = None) -> None:
        """The calling pool thread is alive (its name is its watchdog part)."""
        self.watchdog.beat(threading.current_thread().name, limit_s)

    def _work(self, max_rank: int | None) -> None:
        from studio.extensions import db
        name = threading.current_thread().name
        silence = self.app.config["WATCHDOG_JOB_SILENCE_SECONDS"]

        def idle() -> bool:
            with self.runtime.wake:
                self.runtime.wake.wait(self.poll_s)
            return True

        def started(job, run: jobs.Running) -> None:
            # Inside the job the thread beats whenever the job moves on (progress, a program started or
            # ended), and may stay silent longer than when idle.
            self.watchdog.beat(name, silence)
            run.scope.on_activity = lambda: self.watchdog.beat(name)
            with self._lock:
                self.running[job.id] = run
            if self.stopping.is_set():
                run.stop("shutdown")

        def ended(job, state: str) -> None:
            with self._lock:
                self.running.pop(job.id, None)

        with self.app.app_context(), Session(db.engine) as session:
            jobs.Loop(session, resources(self.app), heartbeat_s=self.app.config["JOB_HEARTBEAT_SECONDS"],
                      max_rank=max_rank, idle=idle, stopping=self.stopping.is_set,
                      tick=lambda: self._beat(self.idle_limit_s), on_start=started, on_end=ended).run()
        self.watchdog.unregister(name)

    def _sweep(self) -> None:
        stale = self.app.config["JOB_STALE_SECONDS"]
        self._beat(60.0)
        while not self.stopping.wait(max(1.0, min(5.0, stale / 3))):
            self._beat()
            try:
                ids = self.recover()
                if ids:
                    log.info("took back jobs %s", ids)
            except Exception:  # noqa: BLE001
                log.exception("sweeping jobs failed")

    def _listen(self) -> None:
        while not self.stopping.is_set():
            try:
                pubsub = self.runtime.redis().pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(WAKE_CHANNEL)
                while not self.stopping.is_set():
                    self._beat()
                    if pubsub.get_message(timeout=1.0):
                        with self.runtime.wake:
                            self.runtime.wake.notify_all()
            except Exception:  # noqa: BLE001 - Redis down: polling goes on, try again shortly
                log.warning("Redis wake-up channel lost", exc_info=True)
                self._beat()
                self.stopping.wait(2.0)

    def stuck(self) -> bool:
        """True if a thread is still inside native code (a model) after stop(): exit without finalising."""
        return any(t.is_alive() for t in self.threads)

    def stop_async(self) -> None:
        """Begin stop() in a thread (from a signal handler: programs are stopped at once)."""
        self.stopping.set()
        threading.Thread(target=self.stop, name="jobs-stop", daemon=True).start()

    def stop(self, timeout: float = 20.0) -> list[int]:
        """Stop claiming, stop running programs, put running jobs back in the queue; returns their ids."""
        with self._stop_lock:
            if self._stopped is None:
                self._stopped = self._stop(timeout)
            return self._stopped

    def _stop(self, timeout: float) -> list[int]:
        self.stopping.set()
        for t in self.threads:  # stopping on purpose: no longer watched
            self.watchdog.unregister(t.name)
        with self._lock:
            running = list(self.running.items())
        for _, run in running:
            run.stop("shutdown")
        with self.runtime.wake:
            self.runtime.wake.notify_all()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        from studio.extensions import db
        with self.app.app_context(), Session(db.engine) as session:
            left = jobs.requeue_running(session, [run.owner for _, run in running])
        return [run.job_id for _, run in running] + left
