"""`studio endpoint sync`: the reference endpoint client, for player boxes and the tests;
`studio endpoint add`: register an endpoint from a script; `studio token create`: a personal API token."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def cmd_sync(args) -> int:
    """Sync once (or every --every seconds); exit 0 in step, 1 when files failed or were refused, 2 when the
    token is refused, 3 when the studio was unreachable (the last good state is kept)."""
    from studio.endpoint_client import SyncClient, SyncError
    token = args.token or os.environ.get("STUDIO_ENDPOINT_TOKEN", "")
    if not token:
        print("error: give --token or set STUDIO_ENDPOINT_TOKEN", file=sys.stderr)
        return 2
    client = SyncClient(args.url, token, Path(args.dir))
    told = None
    if args.mqtt:  # a broker tells us when our areas' feeds change; sync then (and every --every s anyway)
        import threading

        from studio import mqtt
        told = threading.Event()
        sub = mqtt.client(args.mqtt)
        sub.on_message = lambda *_a: told.set()
        for code in ["all", *(args.area or [])]:
            sub.subscribe(mqtt.TOPIC.format(code=code), qos=1)
    while True:
        try:
            r = client.sync(wait=0 if told is not None else min(60, args.every))
        except SyncError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({"offline": r.offline, "not_modified": r.not_modified, "holds": r.holds,
                          "downloaded": len(r.downloaded), "removed": len(r.removed), "rejected": r.rejected,
                          "failed": r.failed, "reports_sent": r.reports_sent,
                          "playable_now": [i["package_id"] for i in client.playable()]}), flush=True)
        if not args.every:
            return 3 if r.offline else (1 if r.rejected or r.failed else 0)
        if told is not None:
            told.wait(timeout=args.every)
            told.clear()
        elif r.offline or r.failed:
            time.sleep(args.every)  # the long poll did not wait: do not hammer a studio that is down


def cmd_play(args) -> int:
    """Play what is playable now with the device's player and queue a play report for each file (sent with
    the next sync, or at once with --url and --token). Exit 1 when a file failed to play."""
    import shlex

    from studio.endpoint_client import SyncClient
    token = args.token or os.environ.get("STUDIO_ENDPOINT_TOKEN", "")
    client = SyncClient(args.url or "http://localhost", token, Path(args.dir))
    played = client.play(shlex.split(args.player))
    sent = client.send_reports() if args.url and token else 0
    print(json.dumps({"played": played, "reports_sent": sent}), flush=True)
    return 1 if any(p["outcome"] != "played" for p in played) else 0


def _as_user(app, username: str):
    """The Caller for a command acting as `username`, or SystemExit naming the problem."""
    from sqlalchemy import select

    from storage.models import User
    from studio.extensions import db
    from studio.services import Caller
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise SystemExit(f"error: no active user {username!r}")
    return Caller(user, "cli")


def cmd_add(args) -> int:
    """Register an endpoint and print its token (alone on a line, or as JSON with --json)."""
    from sqlalchemy import select

    from storage.models import Area
    from studio import create_app
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import endpoints
    app = create_app()
    with app.app_context():
        data = {"name": args.name, "kind": args.kind, "display": args.display or "",
                "languages": args.languages or ""}
        if args.area:
            area = db.session.scalar(select(Area).where(Area.code == args.area))
            if area is None:
                print(f"error: no area with code {args.area!r}", file=sys.stderr)
                return 2
            data["area_id"] = str(area.id)
        try:
            ep, token = endpoints.create(db.session, _as_user(app, args.user), data)
            db.session.commit()
        except StudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps({"id": ep.id, "token": token, "name": ep.name, "kind": ep.kind,
                              "area": args.area or None, "display": ep.display or None,
                              "languages": ep.languages}, ensure_ascii=False))
        else:
            print(token)
    return 0


def cmd_token_create(args) -> int:
    """Print a new personal API token of USERNAME alone on one line (it is stored hashed, shown only now)."""
    from studio import create_app
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import accounts
    app = create_app()
    with app.app_context():
        try:
            _, plain = accounts.create_token(db.session, _as_user(app, args.username), args.name)
            db.session.commit()
        except StudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(plain)
    return 0


def add_parser(sub) -> None:
    """Register `studio endpoint ...` on the main parser."""
    e = sub.add_parser("endpoint", help="the reference distribution endpoint client")
    esub = e.add_subparsers(dest="endpoint_command", required=True)
    s = esub.add_parser("sync", help="fetch the feed, download and verify, remove what expired, report")
    s.add_argument("--url", required=True, help="the studio's address, e.g. https://studio.example.vn")
    s.add_argument("--token", help="the endpoint's token (or STUDIO_ENDPOINT_TOKEN)")
    s.add_argument("--dir", required=True, help="where the media are kept")
    s.add_argument("--every", type=int, default=0,
                   help="keep syncing: wait up to N seconds for a change (long poll, at most 60), then sync again")
    s.add_argument("--mqtt", help="mqtt://USER:PASSWORD@host:port: sync as soon as the broker announces a change")
    s.add_argument("--area", action="append", help="with --mqtt: area codes to listen for (this endpoint's area "
                                                   "and those above it; 'all' is always heard)")
    s.set_defaults(func=cmd_sync)
    pl = esub.add_parser("play", help="play what is playable now with the device's player and report each play")
    pl.add_argument("--dir", required=True, help="the folder `studio endpoint sync` keeps the media in")
    pl.add_argument("--player", required=True,
                    help="the player command; {file} stands for the media file, e.g. \"mpv --no-video {file}\"")
    pl.add_argument("--url", help="send the reports at once to this studio (else with the next sync)")
    pl.add_argument("--token", help="the endpoint's token (or STUDIO_ENDPOINT_TOKEN), with --url")
    pl.set_defaults(func=cmd_play)
    from media_pipeline.profiles import ENDPOINT_KINDS
    a = esub.add_parser("add", help="register an endpoint and print its token")
    a.add_argument("--name", required=True)
    a.add_argument("--kind", required=True, choices=list(ENDPOINT_KINDS),
                   help="what it is: " + "; ".join(f"{k.name} takes {', '.join(k.channels)}" for k in ENDPOINT_KINDS.values()))
    a.add_argument("--area", help="area code; without it the endpoint takes every area's items")
    a.add_argument("--display", help="WIDTHxHEIGHT of its screen, e.g. 384x192 (kinds with a screen: "
                   + ", ".join(k.name for k in ENDPOINT_KINDS.values() if k.screen) + "); it gets files of that size")
    a.add_argument("--languages", help="comma-separated language codes it plays, e.g. vi,tyz (default: all)")
    a.add_argument("--user", default="admin", help="the admin account recorded in the audit log")
    a.add_argument("--json", action="store_true", help="print {\"id\", \"token\", ...} as JSON")
    a.set_defaults(func=cmd_add)
    t = sub.add_parser("token", help="personal API tokens for scripts")
    tsub = t.add_subparsers(dest="token_command", required=True)
    tc = tsub.add_parser("create", help="print a new API token of USERNAME alone on one line")
    tc.add_argument("username")
    tc.add_argument("--name", default="script", help="a label to recognise the token by")
    tc.set_defaults(func=cmd_token_create)
