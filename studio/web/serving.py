"""HTTP serving for `studio serve`, the tests and the benchmarks.

uvicorn runs the Flask app through a2wsgi's thread pools and holds endpoints' long polls of their feed
(`GET /api/v1/feed?wait=N`) in its event loop: a waiting endpoint costs a coroutine and a socket, not a thread.

Endpoint traffic never slows the editors:
- **Feed polls are answered in the event loop**, without Flask (`FeedPolls`): one indexed read finds the
  endpoint by its token's hash together with the feeds and programme generations; its audience's feed (kind,
  area, display, languages, zone) comes from the feed cache, computed once per generation and minute for all the
  endpoints that share it (single flight: a fleet woken by a publish computes each audience once); the answer is a 304, or a 200 with
  the feed document signed once per item list (`feeds.FeedCache.document`). The database reads and the signing run
  in a small thread pool of their own. The poll records the endpoint as seen in memory; `last_seen_at` is
  written in batches (studio/services/sightings.py), so a poll writes nothing. What this path does not know (no
  such endpoint, a bad `wait`, no bearer token) goes to the view, which answers as before.
- **Other endpoint requests** (`/api/v1/feed` fallbacks, `/api/v1/reports`) run in a WSGI pool of their own
  with its own bound: past `ENDPOINT_BACKLOG` waiting requests an endpoint is told 503 with Retry-After at once.
  Staff requests keep their own pool.
- `studio serve --only staff|endpoints` serves one side only, for a deployment with the two sides in separate
  processes behind nginx (docs/DEPLOYMENT.md).

`/healthz` is answered in the event loop too (`Health`): the watchdog's stalled parts, and each component check
in a pool of its own bounded to `HEALTH_CHECK_S`, so it answers while request threads or a component hang. The
event loop itself beats the watchdog every second.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable
from urllib.parse import parse_qs

import uvicorn
from a2wsgi import WSGIMiddleware
from flask import Flask
from werkzeug.http import parse_etags

log = logging.getLogger(__name__)
MAX_WAIT_S = 60
FEED_PATH = "/api/v1/feed"
ENDPOINT_PATHS = (FEED_PATH, "/api/v1/reports", "/api/v1/feed/schedule.ics")
ENDPOINT_BACKLOG = 256     # endpoint requests waiting for the endpoint pool before the next is told 503
HEALTH_CHECK_S = 2.0       # the longest a component check may take before /healthz calls it down
SIDES = ("staff", "endpoints")


def parse_wait(raw: str | None) -> int:
    """Seconds an endpoint asks to wait (0 when absent); ValueError outside 0..MAX_WAIT_S."""
    if raw is None:
        return 0
    if not re.fullmatch(r"[0-9]{1,4}", raw):
        raise ValueError(raw)
    value = int(raw)
    if not 0 <= value <= MAX_WAIT_S:
        raise ValueError(raw)
    return value


def matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag, by werkzeug's rule, which the feed view uses too."""
    return parse_etags(if_none_match).contains(etag)


def is_endpoint_path(path: str) -> bool:
    """Whether a request path belongs to the endpoints' side."""
    return path in ENDPOINT_PATHS


class FeedPolls:
    """Feed polls answered in the event loop (see the module's docstring)."""

    def __init__(self, app: Flask, interval_s: float = 0.25, threads: int = 4):
        from studio.extensions import db
        from studio.web.helpers import SECURITY_HEADERS
        self.app, self.interval_s = app, interval_s
        with app.app_context():
            self.engine = db.engine
        self.db_url = str(self.engine.url)
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="feed-poll")
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS] + [
            (b"cache-control", b"private, no-cache")]
        self.generation: tuple[int, int] | None = None  # (feeds, programme)
        self.changed: asyncio.Event | None = None
        self.closing: asyncio.Event | None = None
        self.listeners: list[Callable[[int], None]] = []
        self._computing: dict[tuple, Future] = {}
        self._task: asyncio.Task | None = None
        self.watchdog = app.extensions["watchdog"]

    # ---- the feeds generation -------------------------------------------------------------------------

    def _read_generation(self) -> tuple[int, int]:
        """(feeds generation, programme generation): a change of either wakes the long polls."""
        from studio.extensions import db
        from studio.services import feeds
        with self.app.app_context():
            try:
                return feeds.generation(db.session), feeds.generation(db.session, "programme")
            finally:
                db.session.remove()

    def start(self) -> None:
        """Start watching the feeds generation in the running loop (once)."""
        if self._task is None:
            self.changed, self.closing = asyncio.Event(), asyncio.Event()
            self.watchdog.register("feed-watch", 60.0)
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closing.is_set():
            self.watchdog.beat("feed-watch")
            try:
                gen = await loop.run_in_executor(self.executor, self._read_generation)
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.warning("reading the feeds generation failed", exc_info=True)
                gen = self.generation
            if gen != self.generation:
                first = self.generation is None
                packages_changed = first or gen[0] != self.generation[0]
                self.generation = gen
                event, self.changed = self.changed, asyncio.Event()
                event.set()
                if not first and packages_changed:  # the announcers tell of packages (MQTT topics by area)
                    for fn in self.listeners:
                        loop.run_in_executor(self.executor, fn, gen[0])
            try:
                await asyncio.wait_for(self.closing.wait(), self.interval_s)
            except asyncio.TimeoutError:
                pass
        self.watchdog.unregister("feed-watch")

    def close(self) -> None:
        if self.closing is not None:
            self.closing.set()

    # ---- one poll -------------------------------------------------------------------------------------

    def _poller(self, token: str):
        from studio.services import feeds
        from studio.services.accounts import hash_token
        if not token.startswith("ep_"):
            return None
        with self.engine.connect() as conn:
            who = feeds.poller(conn, hash_token(token))
        if who is not None:
            self.app.extensions["sightings"].saw(who.id)
        return who

    def _compute(self, who) -> tuple[str, list[dict]]:
        """The endpoint's (ETag, items), filling the feed cache for its whole audience."""
        from storage.models import Area
        from studio.extensions import db
        with self.app.app_context():
            try:
                area = db.session.get(Area, who.area_id) if who.area_id else None
                return self.app.extensions["feeds"].items(db.session, who.id, who.kind, area, who.display,
                                                          languages=list(who.languages), zone=who.zone)
            finally:
                db.session.remove()

    async def _feed(self, who) -> tuple[str, list[dict]]:
        """(ETag, items) from the cache, or computed once for every poller of the same audience at once."""
        from storage.models import utcnow
        hit = self.app.extensions["feeds"].cached(self.db_url, who)
        if hit is not None:
            return hit
        key = who.feed_key(self.db_url, utcnow())
        fut = self._computing.get(key)
        if fut is None:
            fut = self.executor.submit(self._compute, who)
            self._computing[key] = fut
            fut.add_done_callback(lambda _f, key=key: self._computing.pop(key, None))
        await asyncio.wrap_future(fut)
        hit = self.app.extensions["feeds"].cached(self.db_url, who)
        return hit if hit is not None else await asyncio.get_running_loop().run_in_executor(
            self.executor, self._compute, who)

    def _body(self, feed) -> bytes:
        from studio.services import feeds
        return self.app.extensions["feeds"].document(self.app.extensions["objectstore"], feed, feeds.FEED_URL_TTL)

    async def answer(self, token: str, if_none_match: str, seconds: int, send) -> bool:
        """Answer the poll (304, or 200 with the feed), waiting up to `seconds` while it is unchanged; False
        when the view must answer instead."""
        self.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            event = self.changed  # taken before reading, so a change during the read is not missed
            who = await loop.run_in_executor(self.executor, self._poller, token)
            if who is None:
                return False  # the view says why (401)
            etag, feed = await self._feed(who)
            unchanged = bool(if_none_match) and matches(if_none_match, etag)
            remaining = deadline - loop.time()
            if not unchanged or remaining <= 0 or self.closing.is_set():
                break
            closing = asyncio.ensure_future(self.closing.wait())
            changed = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({closing, changed}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closing.cancel()
                changed.cancel()
        headers = [(b"etag", f'"{etag}"'.encode()), *self.headers]
        if unchanged:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        if "objectstore" not in self.app.extensions:
            return False
        body = await loop.run_in_executor(self.executor, self._body, feed)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})
        return True


class Health:
    """/healthz from the event loop: the watchdog's report and each component check bounded in time."""

    def __init__(self, app: Flask):
        import studio.web.health as health_view
        self.app, self.health = app, health_view
        self.checks = health_view.checks(app)
        self.executor = ThreadPoolExecutor(len(self.checks), thread_name_prefix="health")
        self._running: dict[str, Future] = {}

    def _check(self, name: str) -> Future:
        """The check under way for this component, or a new one (never two at once: a hung one is not
        joined by more threads)."""
        fut = self._running.get(name)
        if fut is None or fut.done():
            fut = self.executor.submit(self.checks[name])
            self._running[name] = fut
        return fut

    async def answer(self, send) -> None:
        names = list(self.checks)
        futures = [asyncio.wrap_future(self._check(n)) for n in names]
        done, _ = await asyncio.wait(futures, timeout=HEALTH_CHECK_S)
        status = {}
        for name, fut in zip(names, futures):
            if fut not in done:
                status[name] = f"down: no answer within {HEALTH_CHECK_S:g} s"
            elif fut.exception() is not None:
                status[name] = self.health.describe(fut.exception())
            else:
                status[name] = "ok"
        body, code = self.health.report(self.app, status)
        data = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": code, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
            (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": data})


class _Gate:
    """A bound on the requests waiting for a pool: past `limit`, the next is refused at once."""

    def __init__(self, limit: int):
        self.limit, self.inside = limit, 0


class StudioASGI:
    """The Flask app as ASGI: staff and endpoint requests in pools of their own, feed polls and /healthz in the
    event loop; `only` serves one side."""

    def __init__(self, app: Flask, threads: int = 8, endpoint_threads: int = 2, only: str | None = None):
        if only not in (None, *SIDES):
            raise ValueError(f"only must be one of {SIDES}, got {only!r}")
        self.app, self.only = app, only
        self.staff = WSGIMiddleware(app, workers=threads) if only != "endpoints" else None
        self.endpoints = WSGIMiddleware(app, workers=endpoint_threads) if only != "staff" else None
        self.gate = _Gate(ENDPOINT_BACKLOG)
        self.polls = FeedPolls(app)
        self.health = Health(app)
        self.watchdog = app.extensions["watchdog"]

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == "/healthz":
            await self.health.answer(send)
            return
        if scope["type"] == "http" and is_endpoint_path(path):
            if self.endpoints is None:
                await _json(send, 404, "not_found", "Tiến trình này chỉ phục vụ cán bộ; thiết bị đầu cuối kết nối "
                                                    "tới tiến trình phục vụ thiết bị (studio serve --only endpoints).")
                return
            if path == FEED_PATH and scope["method"] == "GET" and await self._poll(scope, send):
                return
            if self.gate.inside >= self.gate.limit:
                await _json(send, 503, "busy", "Hệ thống đang bận; thiết bị hãy thử lại sau vài giây.", retry_after=5)
                return
            self.gate.inside += 1
            try:
                await self.endpoints(scope, receive, send)
            finally:
                self.gate.inside -= 1
            return
        if self.staff is None:
            await _json(send, 404, "not_found", "Tiến trình này chỉ phục vụ thiết bị đầu cuối (studio serve --only "
                                                "endpoints); trang dành cho cán bộ ở địa chỉ khác.")
            return
        await self.staff(scope, receive, send)

    async def beat(self) -> None:
        """The event loop's watchdog beat, every second: a blocked loop stops it."""
        self.watchdog.register("event-loop", 10.0)
        try:
            while True:
                self.watchdog.beat("event-loop")
                await asyncio.sleep(1.0)
        finally:
            self.watchdog.unregister("event-loop")

    async def _poll(self, scope, send) -> bool:
        """Answer a feed poll here; False for the view (no bearer token, a bad `wait`, an unknown endpoint)."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            seconds = parse_wait((query.get("wait") or [None])[0])
        except ValueError:
            return False  # the view answers 400
        headers = {k.lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth, inm = headers.get(b"authorization", ""), headers.get(b"if-none-match", "")
        if not auth.lower().startswith("bearer "):
            return False
        try:
            return await self.polls.answer(auth[7:].strip(), inm, seconds, send)
        except Exception:  # noqa: BLE001 - the database may be briefly unavailable: the view says so properly
            log.warning("answering a feed poll failed", exc_info=True)
            return False


async def _json(send, status: int, code: str, message: str, retry_after: int | None = None) -> None:
    """A JSON error in the API's shape, sent from the event loop (devices read the code; people the Vietnamese)."""
    data = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if retry_after:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class StudioServer(uvicorn.Server):
    """uvicorn's server that also releases waiting endpoints and tells the caller when asked to exit."""

    def __init__(self, config: uvicorn.Config, asgi: StudioASGI, on_exit: Callable[[], None] | None):
        super().__init__(config)
        self.asgi, self.on_exit = asgi, on_exit

    def handle_exit(self, sig, frame) -> None:
        if self.on_exit is not None:
            self.on_exit()
        self._release()
        super().handle_exit(sig, frame)

    def _release(self) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.call_soon_threadsafe(self.asgi.polls.close)

    async def serve(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        self.asgi.polls.start()  # watch from the start: MQTT notices do not wait for a long poll
        beat = self._loop.create_task(self.asgi.beat())
        sightings = self.asgi.app.extensions["sightings"].start()
        try:
            await super().serve(sockets)
        finally:
            beat.cancel()
            sightings.stop()

    def stop(self) -> None:
        """Ask the server to finish (from another thread)."""
        self._release()
        self.should_exit = True


def make_server(app: Flask, host: str, port: int, threads: int = 8,
                on_exit: Callable[[], None] | None = None, only: str | None = None) -> StudioServer:
    """The server for `studio serve`; `on_exit` runs as soon as a stop signal arrives."""
    asgi = StudioASGI(app, threads, only=only)
    if app.config.get("MQTT_URL", "").startswith("mqtt://") and only != "staff":
        from studio.mqtt import Announcer
        asgi.polls.listeners.append(Announcer(app, app.config["MQTT_URL"]))
    config = uvicorn.Config(asgi, host=host, port=port, lifespan="off", log_level="warning", access_log=False,
                            timeout_graceful_shutdown=10, timeout_keep_alive=30, backlog=4096)
    return StudioServer(config, asgi, on_exit)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound before the server runs (so "running at" is true when printed; port 0 works).

    TCP_NODELAY is set here, on the listening socket, so every accepted connection inherits it: the
    connections uvicorn accepts from a socket handed in did not have it, and on a kept-alive connection the
    answer's second write then waited for the client's delayed ACK, 40 ms on every request after the first
    (bench/bench_programme.py: keep-alive feed polls 44 ms -> under 1 ms)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


def serve_in_thread(app: Flask, threads: int = 8, only: str | None = None
                    ) -> tuple[str, StudioServer, threading.Thread]:
    """Serve on a free loopback port in a thread (tests, benchmarks); returns (base URL, server, thread)."""
    sock = bind("127.0.0.1", 0)
    server = make_server(app, "127.0.0.1", sock.getsockname()[1], threads, only=only)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread
