"""CAP in to the loudspeaker, measured against a real `studio serve` (uvicorn, worker pool, espeak-ng, ffmpeg)
and a real SeaweedFS, on this machine's cores (issue #25).

From POST /api/v1/cap of a two-language (vi-VN, en-US) alert from a trusted sender, signed (RSA-SHA256), to a
verified MP3 and the CAP document in a loudspeaker's folder, synced with the reference client's long poll:
the MP3's sha256 and ffprobe, the CAP document's sha256, the OASIS schema, and its <digest> = SHA-1 of the MP3
the loudspeaker holds. With an idle queue, and while routine renders of a five-minute bulletin keep every
general worker busy. Target: median of 5 under load <= 30 s.

Beside it, the same audio made by the raw tools (espeak-ng, then ffmpeg to MP3, both languages one after the
other), so the ratio says what the studio adds: signature and schema checks, the work and its translation,
approval, loudness mastering, packaging, the CAP document and the feed.

Run: .venv/bin/python bench/bench_cap.py [--rounds 5]
Traffic goes to 127.0.0.1 only; every loop is bounded by count and time.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_emergency import Studio, keep_busy  # noqa: E402
from lxml import etree  # noqa: E402
from storage.seaweed import EmbeddedSeaweed  # noqa: E402
from tests.services.cap_cases import (EN_DESC, EN_INSTR, SENDER, VI_DESC, VI_INSTR, Signer,  # noqa: E402
                                      flood_alert, schema)

NS = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}


def seed(instance: Path, s3_url: str, signer: Signer) -> dict:
    """Users and tokens, the trusted sender with its certificate, one loudspeaker."""
    from flask_migrate import upgrade

    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, areas, cap_senders, endpoints
    app = create_app({"QUEUE_URL": ""}, environ={"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": s3_url})
    with app.app_context():
        upgrade()
        s = db.session
        ed = accounts.create_user(s, Caller(None), "bientap", "bench-password-1", ["editor"], system=True)
        ap = accounts.create_user(s, Caller(None), "duyet", "bench-password-1", ["approver", "admin"], system=True)
        s.commit()
        cap_senders.save(s, Caller(ap), {"sender": SENDER, "policy": "publish", "certificate": signer.pem})
        areas.create(s, Caller(ap), "02", "Hà Giang", "province", None)  # the alert's VN-ADMIN geocode
        out = {"editor": accounts.create_token(s, Caller(ed), "bench")[1],
               "approver": accounts.create_token(s, Caller(ap), "bench")[1],
               "loudspeaker": endpoints.create(s, Caller(ap), {"name": "Loa xã", "kind": "loudspeaker",
                                                               "languages": "vi"})[1]}
        s.commit()
    return out


def cap_round(studio: Studio, tokens: dict, signer: Signer, box: Path, n: int) -> float:
    """Seconds from the POST of a signed alert to its MP3 and CAP document verified in the loudspeaker's folder."""
    from endpoint_client import SyncClient
    client = SyncClient(studio.base, tokens["loudspeaker"], box)
    client.sync()
    # Headlines of their own: every round renders anew (the same text would reuse the stored renditions).
    doc = signer.sign(flood_alert(identifier=f"BENCH-{n}-{time.time_ns()}",
                                  headline_vi=f"Cảnh báo lũ quét khẩn cấp số {n}",
                                  headline_en=f"Flash flood emergency warning number {n}"))
    t = time.perf_counter()
    r = studio.http.post(studio.base + "/api/v1/cap", data=doc, timeout=120,
                         headers={"Authorization": f"Bearer {tokens['editor']}", "Content-Type": "application/cap+xml"})
    if r.status_code != 201 or not r.json()["published"]:
        raise RuntimeError(f"POST /api/v1/cap: {r.status_code} {r.text[:300]}")
    wid = r.json()["work_id"]
    deadline = t + 300
    while time.perf_counter() < deadline:
        client.sync(wait=60)
        state = json.loads((box / "state.json").read_text())
        item = next((i for i in state["items"] if i["work_id"] == wid), None)
        if item is None:
            continue
        files = {f["role"]: f for f in item["files"]}
        mp3, cap = client.media_path(files["audio"]["sha256"]), client.media_path(files["cap"]["sha256"])
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "json",
                                str(mp3)], capture_output=True, text=True, check=True)
        if json.loads(probe.stdout)["streams"][0]["codec_name"] != "mp3":
            raise RuntimeError("the file is not an MP3")
        root = etree.fromstring(cap.read_bytes())
        if not schema().validate(root):
            raise RuntimeError(f"the CAP document is not valid: {schema().error_log}")
        vi = root.find("c:info", NS)
        if vi.findtext("c:resource/c:digest", namespaces=NS) != hashlib.sha1(mp3.read_bytes()).hexdigest():
            raise RuntimeError("the CAP document's digest is not the loudspeaker's MP3")
        return time.perf_counter() - t
    raise RuntimeError("the alert never reached the loudspeaker")


def raw_tools(tmp: Path) -> float:
    """espeak-ng and ffmpeg making the two languages' MP3s, one after the other: the floor."""
    t = time.perf_counter()
    for lang, text in (("vi", f"Cảnh báo lũ quét khẩn cấp. {VI_DESC} {VI_INSTR}"),
                       ("en", f"Flash flood emergency warning. {EN_DESC} {EN_INSTR}")):
        wav, mp3 = tmp / f"raw-{lang}.wav", tmp / f"raw-{lang}.mp3"
        subprocess.run(["espeak-ng", "-v", lang, "-w", str(wav), text], check=True, capture_output=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "128k",
                        str(mp3)], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    signer = Signer()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        weed = EmbeddedSeaweed(tmp / "weed").start()
        studio = None
        try:
            tokens = seed(tmp / "instance", weed.url, signer)
            studio = Studio(tmp / "instance", weed.url, {"STUDIO_PUBLIC_URL": "http://127.0.0.1:{port}"})
            print(f"studio serve on {studio.base} (2 workers + 1 reserved), CAP channels: the default "
                  "(loudspeaker, eboard, web)")
            raw_idle = statistics.median(raw_tools(tmp) for _ in range(3))
            idle = [cap_round(studio, tokens, signer, tmp / "box", n) for n in range(3)]
            state: dict = {}
            loaded, raw_loaded = [], []
            for n in range(args.rounds):
                keep_busy(studio, tokens, state)
                raw_loaded.append(raw_tools(tmp))
                keep_busy(studio, tokens, state)
                loaded.append(cap_round(studio, tokens, signer, tmp / "box", 100 + n))
            print("POST /api/v1/cap (signed, trusted, vi-VN + en-US) -> verified MP3 and CAP document in the "
                  "loudspeaker's folder:")
            print(f"  idle queue            median {statistics.median(idle):6.2f} s  "
                  f"({', '.join(f'{x:.1f}' for x in idle)});  raw espeak-ng+ffmpeg {raw_idle:.2f} s, "
                  f"ratio {statistics.median(idle) / raw_idle:.1f}x")
            print(f"  routine renders busy  median {statistics.median(loaded):6.2f} s  "
                  f"({', '.join(f'{x:.1f}' for x in loaded)})  target <= 30 s;  raw under the same load "
                  f"{statistics.median(raw_loaded):.2f} s, ratio {statistics.median(loaded) / statistics.median(raw_loaded):.1f}x")
        finally:
            if studio is not None:
                studio.stop()
            weed.stop()


if __name__ == "__main__":
    main()
