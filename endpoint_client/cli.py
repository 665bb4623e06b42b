"""The device's command line, `studio-endpoint sync|play` (the same commands as `studio endpoint sync|play`)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from endpoint_client import notices
from endpoint_client.client import SyncClient, SyncError


def cmd_sync(args) -> int:
    """Sync once (or every --every seconds); exit 0 in step, 1 when files failed or were refused, 2 when the
    token is refused, 3 when the studio was unreachable (the last good state is kept)."""
    token = args.token or os.environ.get("STUDIO_ENDPOINT_TOKEN", "")
    if not token:
        print("error: give --token or set STUDIO_ENDPOINT_TOKEN", file=sys.stderr)
        return 2
    client = SyncClient(args.url, token, Path(args.dir))
    told = None
    if args.mqtt:  # a broker tells us when our areas' feeds change; sync then (and every --every s anyway)
        told = threading.Event()
        notices.listen(args.mqtt, ["all", *(args.area or [])], told.set)
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

    token = args.token or os.environ.get("STUDIO_ENDPOINT_TOKEN", "")
    client = SyncClient(args.url or "http://localhost", token, Path(args.dir))
    if args.schedule:  # the programme at its times (schedule.py); `sync --every` sends the reports meanwhile
        from endpoint_client.schedule import ScheduledPlayer
        events = ScheduledPlayer(client, shlex.split(args.player)).run(args.seconds)
        sent = client.send_reports() if args.url and token else 0
        print(json.dumps({"events": events, "reports_sent": sent}, ensure_ascii=False), flush=True)
        return 1 if any(e.get("outcome") == "failed" for e in events) else 0
    played = client.play(shlex.split(args.player))
    sent = client.send_reports() if args.url and token else 0
    print(json.dumps({"played": played, "reports_sent": sent}), flush=True)
    return 1 if any(p["outcome"] != "played" for p in played) else 0


def add_commands(esub) -> None:
    """The sync and play commands on a subparsers object (this program's, or `studio endpoint`'s)."""
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
    pl.add_argument("--schedule", action="store_true",
                    help="play the synced programme at its times (emergencies interrupt, the interrupted item "
                         "resumes); {start} in the player command stands for the second to resume at")
    pl.add_argument("--for", dest="seconds", type=float, default=None,
                    help="with --schedule: stop after this many seconds (default: run until stopped)")
    pl.add_argument("--url", help="send the reports at once to this studio (else with the next sync)")
    pl.add_argument("--token", help="the endpoint's token (or STUDIO_ENDPOINT_TOKEN), with --url")
    pl.set_defaults(func=cmd_play)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `studio-endpoint` console script."""
    p = argparse.ArgumentParser(prog="studio-endpoint", description="The reference endpoint client")
    add_commands(p.add_subparsers(dest="endpoint_command", required=True))
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
