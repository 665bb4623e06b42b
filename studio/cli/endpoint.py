"""`studio endpoint sync|play`: the reference endpoint client (endpoint_client/, which ships alone);
`studio endpoint add`: register an endpoint from a script; `studio token create`: a personal API token."""
from __future__ import annotations

import json
import sys

from endpoint_client import cli as endpoint_cli


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
    endpoint_cli.add_commands(esub)
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
