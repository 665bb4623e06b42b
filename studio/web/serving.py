"""HTTP serving for `studio serve`, the tests and the benchmarks.

uvicorn runs the Flask app through a2wsgi's thread pool, and holds endpoints' long polls of their feed
(`GET /api/v1/feed?wait=N`) in its event loop: a waiting endpoint costs a coroutine and a socket, not a thread,
so a thousand loudspeakers waiting for the next bulletin leave every thread to the editors' pages (waitress,
used before, gives each request a thread until it ends). When the request's If-None-Match still matches the
endpoint's feed, the wait ends as soon as the feeds generation moves and the endpoint's ETag changes, or at
the timeout; then the Flask view answers as for any request (200 with the new feed, or 304).

An unchanged poll, the common request (thousands of endpoints, once a minute), is answered here without
Flask: one indexed read joins the endpoint (by its token's hash) and the feeds generation, and the feed
cache the view filled gives the ETag (`publishing.unchanged_feed_etag`). Anything else (no such endpoint, a
feed not yet computed in this process, an endpoint last seen over a minute ago) goes to the view.
"""
from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable
from urllib.parse import parse_qs

import uvicorn
from a2wsgi import WSGIMiddleware
from flask import Flask
from werkzeug.http import parse_etags

log = logging.getLogger(__name__)
MAX_WAIT_S = 60
FEED_PATH = "/api/v1/feed"


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


class FeedWaiter:
    """Watches the feeds generation and lets requests wait until their endpoint's feed changes."""

    def __init__(self, app: Flask, interval_s: float = 0.25):
        self.app, self.interval_s = app, interval_s
        self.executor = ThreadPoolExecutor(4, thread_name_prefix="feed-wait")
        self.generation: int | None = None
        self.changed: asyncio.Event | None = None
        self.closing: asyncio.Event | None = None
        self.listeners: list[Callable[[int], None]] = []
        self._task: asyncio.Task | None = None

    def _read_generation(self) -> int:
        from studio.extensions import db
        from studio.services import publishing
        with self.app.app_context():
            return publishing.feeds_generation(db.session)

    def _etag(self, token: str) -> str | None:
        from studio.extensions import db
        from studio.services import endpoints, publishing
        with self.app.app_context():
            ep = endpoints.for_token(db.session, token)
            if ep is None:
                return None
            return publishing.feed_items(db.session, ep.id, ep.kind, ep.area, ep.display,
                                         languages=ep.languages)[0]

    def start(self) -> None:
        """Start watching in the running loop (once)."""
        if self._task is None:
            self.changed, self.closing = asyncio.Event(), asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closing.is_set():
            try:
                gen = await loop.run_in_executor(self.executor, self._read_generation)
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.warning("reading the feeds generation failed", exc_info=True)
                gen = self.generation
            if gen != self.generation:
                first = self.generation is None
                self.generation = gen
                event, self.changed = self.changed, asyncio.Event()
                event.set()
                if not first:
                    for fn in self.listeners:
                        loop.run_in_executor(self.executor, fn, gen)
            try:
                await asyncio.wait_for(self.closing.wait(), self.interval_s)
            except asyncio.TimeoutError:
                pass

    async def wait(self, token: str, if_none_match: str, seconds: int) -> None:
        """Return when the endpoint's feed no longer matches `if_none_match`, at the timeout, or on shutdown."""
        self.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.closing.is_set():
            event = self.changed  # taken before reading, so a change during the read is not missed
            etag = await loop.run_in_executor(self.executor, self._etag, token)
            if etag is None or not matches(if_none_match, etag):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            closing = asyncio.ensure_future(self.closing.wait())
            changed = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({closing, changed}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closing.cancel()
                changed.cancel()

    def close(self) -> None:
        if self.closing is not None:
            self.closing.set()


def matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag, by werkzeug's rule, which the feed view uses too."""
    return parse_etags(if_none_match).contains(etag)


class UnchangedFeed:
    """Answers an unchanged feed poll with a 304 from one read (see the module's docstring)."""

    def __init__(self, app: Flask):
        from studio.extensions import db
        from studio.web import SECURITY_HEADERS
        with app.app_context():
            self.engine = db.engine
        self.db_url = str(self.engine.url)
        self.executor = ThreadPoolExecutor(4, thread_name_prefix="feed-304")
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS] + [
            (b"cache-control", b"private, no-cache")]

    def etag(self, token: str) -> str | None:
        from studio.services import publishing
        from studio.services.accounts import hash_token
        if not token.startswith("ep_"):
            return None
        with self.engine.connect() as conn:
            return publishing.unchanged_feed_etag(conn, self.db_url, hash_token(token))

    async def answer(self, token: str, if_none_match: str, send) -> bool:
        """Send the 304 and return True, or return False for the view to answer."""
        # In a thread of its own pool: a slow or unreachable database must not stall the event loop (and with
        # it every long poll); the handoff costs little next to the request (bench/bench_distribution.py).
        etag = await asyncio.get_running_loop().run_in_executor(self.executor, self.etag, token)
        if etag is None or not matches(if_none_match, etag):
            return False
        await send({"type": "http.response.start", "status": 304,
                    "headers": [(b"etag", f'"{etag}"'.encode()), *self.headers]})
        await send({"type": "http.response.body", "body": b""})
        return True


class StudioASGI:
    """The Flask app as ASGI, with feed long polls held in the event loop and unchanged polls answered there."""

    def __init__(self, app: Flask, threads: int = 8):
        self.wsgi = WSGIMiddleware(app, workers=threads)
        self.waiter = FeedWaiter(app)
        self.unchanged = UnchangedFeed(app)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == FEED_PATH and scope["method"] == "GET":
            if await self._hold(scope, send):
                return
        await self.wsgi(scope, receive, send)

    async def _hold(self, scope, send) -> bool:
        """Wait while the feed is unchanged (long poll); True when the 304 was sent here."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            seconds = parse_wait((query.get("wait") or [None])[0])
        except ValueError:
            return False  # the view answers 400
        headers = {k.lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth, inm = headers.get(b"authorization", ""), headers.get(b"if-none-match", "")
        if not (inm and auth.lower().startswith("bearer ")):
            return False
        if seconds:
            await self.waiter.wait(auth[7:].strip(), inm, seconds)
        try:
            return await self.unchanged.answer(auth[7:].strip(), inm, send)
        except Exception:  # noqa: BLE001 - the database may be briefly unavailable: the view says so properly
            log.warning("answering an unchanged feed poll failed", exc_info=True)
            return False


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
            loop.call_soon_threadsafe(self.asgi.waiter.close)

    async def serve(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        self.asgi.waiter.start()  # watch from the start: MQTT notices do not wait for a long poll
        await super().serve(sockets)

    def stop(self) -> None:
        """Ask the server to finish (from another thread)."""
        self._release()
        self.should_exit = True


def make_server(app: Flask, host: str, port: int, threads: int = 8,
                on_exit: Callable[[], None] | None = None) -> StudioServer:
    """The server for `studio serve`; `on_exit` runs as soon as a stop signal arrives."""
    asgi = StudioASGI(app, threads)
    if app.config.get("MQTT_URL", "").startswith("mqtt://"):
        from studio.mqtt import Announcer
        asgi.waiter.listeners.append(Announcer(app, app.config["MQTT_URL"]))
    config = uvicorn.Config(asgi, host=host, port=port, lifespan="off", log_level="warning", access_log=False,
                            timeout_graceful_shutdown=10, timeout_keep_alive=30, backlog=4096)
    return StudioServer(config, asgi, on_exit)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound before the server runs (so "running at" is true when printed; port 0 works)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


def serve_in_thread(app: Flask, threads: int = 8) -> tuple[str, StudioServer, threading.Thread]:
    """Serve on a free loopback port in a thread (tests, benchmarks); returns (base URL, server, thread)."""
    sock = bind("127.0.0.1", 0)
    server = make_server(app, "127.0.0.1", sock.getsockname()[1], threads)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread
