"""`studio db upgrade` and `studio create-user`."""
from __future__ import annotations

import sys

from studio.cli.common import prepare


def cmd_db_upgrade(args) -> int:
    """Apply database migrations and create the first admin if there is none."""
    from studio import create_app
    password = prepare(create_app())
    if password:
        print(f"Created user 'admin' with password '{password}'")
    print("Database is up to date.")
    return 0


def cmd_create_user(args) -> int:
    """Create a user from the command line (for scripted setups)."""
    import getpass

    from studio import create_app
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import Caller, accounts, areas
    app = create_app()
    from studio.config import new_user_password
    password = new_user_password() or getpass.getpass("Password: ")
    with app.app_context():
        try:
            codes = [c.strip() for c in args.areas.split(",") if c.strip()]
            accounts.create_user(db.session, Caller(None, "cli"), args.username, password, args.roles.split(","),
                                 args.name or args.username, [areas.named(db.session, c, "areas").id for c in codes],
                                 system=True)
            db.session.commit()
        except StudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"Created {args.username} ({args.roles}).")
    return 0
