"""A two-channel render of one bulletin (loudspeaker MP3 and the 1080p border screen), side by side in one run:

- separate: the two render jobs as before, each synthesizing and speech-checking the same narration at once on
  the two cores (what the issue saw: both stuck at 62 % for minutes);
- shared: what `rendering.queue` now does, one narrate job (synthesis and the speech check), then both renders
  reuse it and only mix and encode.

Both run on a worker pool of two threads against a real SeaweedFS, espeak-ng, ffmpeg and Whisper base (the
packaged model), with the same text length (a word differs, so neither finds the other's narration in the
store). Prints each variant's wall time until every job ended and the ratio.
Run: .venv/bin/python bench/bench_narration.py [--sentences 40] [--rounds 1]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.seaweed import EmbeddedSeaweed  # noqa: E402

SENTENCE = ("Mục {i}: xã tổ chức tiêm chủng cho trẻ em dưới năm tuổi tại trạm y tế, bà con mang theo sổ tiêm "
            "chủng và đến đúng giờ hẹn {tag}.")


def make_app(tmp: Path, s3_url: str, models: str):
    from flask_migrate import upgrade

    from studio import create_app
    app = create_app({"S3_URL": s3_url, "QUEUE_URL": "",
                      "TTS_ENGINES": "espeak", "MODEL_CACHE": models},
                     environ={"STUDIO_INSTANCE": str(tmp / "instance")})
    with app.app_context():
        upgrade()
    return app


def run(app, variant: str, sentences: int, tag: str) -> float:
    """Queue the two renders of a fresh bulletin, the variant's way; seconds until every job ended."""
    from sqlalchemy import select

    from storage.models import Job
    from studio.extensions import db
    from studio import jobs
    from studio.services import Caller, accounts, rendering, works
    with app.app_context():
        s = db.session
        user = accounts.create_user(s, Caller(None), f"ed-{tag}", "bench password 1", ["editor"], system=True)
        body = " ".join(SENTENCE.format(i=i, tag=tag) for i in range(sentences))
        work = works.create(s, Caller(user), {"title": f"Bản tin {tag}", "body": body, "kind": "radio_bulletin"})
        s.commit()
        start = time.monotonic()
        if variant == "shared":
            rendering.queue(s, Caller(user), work, ["loudspeaker", "border_screen"])
            s.flush()
            ids = [j.id for j in s.scalars(select(Job).where(Job.work_id == work.id))]  # the narrate job too
        else:
            ids = [jobs.create(s, "render", work_id=work.id, language="vi", profile=p, revision=work.current_revision,
                               created_by_id=user.id).id for p in ("loudspeaker", "border-screen")]
        s.commit()
        deadline = start + 3600
        while time.monotonic() < deadline:
            s.expire_all()
            states = [s.get(Job, i).state for i in ids]
            if all(x in jobs.FINAL for x in states):
                break
            time.sleep(0.5)
        took = time.monotonic() - start
        assert all(x == "succeeded" for x in states), states
        db.session.remove()
    return took


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=40, help="sentences in the bulletin (40: about 4 minutes)")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    from studio.jobs.worker import WorkerPool
    with tempfile.TemporaryDirectory() as d, EmbeddedSeaweed(Path(d) / "s3") as store:
        tmp = Path(d)
        app = make_app(tmp, store.url, str(tmp / "models"))
        from media_pipeline import asr
        asr.load_model("packaged:base", tmp / "models")  # assembled once, before any timing
        pool = WorkerPool(app, workers=2, reserved=0, poll_s=0.2).start()
        try:
            times: dict[str, list[float]] = {"separate": [], "shared": []}
            for r in range(args.rounds):
                for variant in ("separate", "shared"):
                    took = run(app, variant, args.sentences, f"{variant}{r}")
                    times[variant].append(took)
                    print(f"round {r + 1} {variant:8s} {took:7.1f} s", flush=True)
        finally:
            pool.stop()
    sep, sh = min(times["separate"]), min(times["shared"])
    print(f"two-channel render of {args.sentences} sentences, best of {args.rounds}: separate {sep:.1f} s, "
          f"shared narration {sh:.1f} s; shared/separate = {sh / sep:.2f} ({sep / sh:.2f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
