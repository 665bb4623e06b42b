"""`studio endpoint sync`: the reference endpoint client, for player boxes and the tests."""
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
    while True:
        try:
            r = client.sync()
        except SyncError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({"offline": r.offline, "not_modified": r.not_modified, "holds": r.holds,
                          "downloaded": len(r.downloaded), "removed": len(r.removed), "rejected": r.rejected,
                          "failed": r.failed, "reports_sent": r.reports_sent}), flush=True)
        if not args.every:
            return 3 if r.offline else (1 if r.rejected or r.failed else 0)
        time.sleep(args.every)


def add_parser(sub) -> None:
    """Register `studio endpoint ...` on the main parser."""
    e = sub.add_parser("endpoint", help="the reference distribution endpoint client")
    esub = e.add_subparsers(dest="endpoint_command", required=True)
    s = esub.add_parser("sync", help="fetch the feed, download and verify, remove what expired, report")
    s.add_argument("--url", required=True, help="the studio's address, e.g. https://studio.example.vn")
    s.add_argument("--token", help="the endpoint's token (or STUDIO_ENDPOINT_TOKEN)")
    s.add_argument("--dir", required=True, help="where the media are kept")
    s.add_argument("--every", type=int, default=0, help="repeat every N seconds (0: once)")
    s.set_defaults(func=cmd_sync)
