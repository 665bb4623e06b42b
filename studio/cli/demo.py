"""`studio demo`: the sample work rendered offline for every channel and endpoint (the content: studio/cli/sample.py)."""
from __future__ import annotations

from pathlib import Path

from studio.cli.common import running_studio, run_jobs_here


def cmd_demo(args) -> int:
    """Create the sample work, render it offline for all channels, print a summary."""
    import json
    import tempfile

    from sqlalchemy import select

    from storage.models import User, Work
    from studio.cli import sample as demo
    from studio.config import load_config
    from studio.extensions import db
    from studio.services import Caller, rendering
    from studio.services import channels as channel_service

    cfg = load_config()
    with running_studio(cfg, quiet=args.json) as (app, password):
        store = app.extensions["objectstore"]
        with app.app_context(), tempfile.TemporaryDirectory() as tmp:
            work_id = demo.create(db.session, store, Path(tmp), app.config["MAX_CONTENT_LENGTH"],
                                  app.config["MAX_IMAGE_PIXELS"])
            endpoints = demo.register_endpoints(db.session)
            demo.approve(db.session, work_id)
            editor = db.session.scalar(select(User).where(User.username == "demo-editor"))
            work = db.session.get(Work, work_id)
            needs = channel_service.needs(db.session, work)  # the channels' defaults and every endpoint's files
            jobs = rendering.queue(db.session, Caller(editor, "demo"), work,
                                   languages=sorted({n.language for n in needs}), needs=needs)
            db.session.commit()
            ids = [j.id for j in jobs]
        states = run_jobs_here(app, ids, quiet=args.json)
        with app.app_context():
            publish_ids = demo.publish(db.session, work_id)
        states += run_jobs_here(app, publish_ids, quiet=args.json)
        ids += publish_ids
        with app.app_context():
            book_id = demo.create_publication(db.session)
            editor = db.session.scalar(select(User).where(User.username == "demo-editor"))
            book_jobs = [j.id for j in rendering.queue(db.session, Caller(editor, "demo"), db.session.get(Work, book_id), ["epub"], ["vi"])]
            db.session.commit()
        states += run_jobs_here(app, book_jobs, quiet=args.json)
        ids += book_jobs
        out_dir = Path(cfg["INSTANCE"]) / "demo" / f"work-{work_id}"
        with app.app_context():
            entries = demo.collect(db.session, store, work_id, out_dir)
            books = demo.collect_publications(db.session, store, book_id, out_dir)
        base = (cfg["PUBLIC_URL"] or "http://127.0.0.1:5000").rstrip("/")
        summary = {"work_id": work_id, "jobs": dict(zip(ids, states)), "renditions": entries,
                   "output_dir": str(out_dir.resolve()), "feed_url": f"{base}/api/v1/feed",
                   "endpoint_token": endpoints[0]["token"], "endpoints": endpoints,
                   "publications": books}
        if password:
            summary["admin_password"] = password
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
        else:
            print(f"\nDemo work {work_id}: {len(entries)} renditions in {out_dir}, published")
            for e in entries:
                loud = f"  {e['lufs']:.1f} LUFS" if "lufs" in e else ""
                print(f"  {e['channel']:<14} {e['profile']:<20} {e['language']}  {e['duration_s']:6.1f} s{loud}  "
                      f"{e['file']}")
            print(f"\nSample publication {book_id}:")
            for b in books:
                print(f"  {b['format']:<14} {b['language']}  {b['file']}")
            print("\nEndpoints registered (each fetches files made for its display and languages):")
            for e in endpoints:
                print(f"  {e['kind']:<14} {e['display'] or '-':<10} {','.join(e['languages']) or 'all':<9} {e['name']}")
            print(f"\nWith `studio serve` running, the loudspeaker fetches its feed with:\n"
                  f"  curl -H 'Authorization: Bearer {endpoints[0]['token']}' {summary['feed_url']}")
        return 0 if all(s == "succeeded" for s in states) else 1
