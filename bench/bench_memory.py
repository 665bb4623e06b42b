"""Translation memory at scale, side by side in one run: a 1,000-sentence work prefilled from a 50,000-unit
memory by the studio's translate job, against RapidFuzz alone on the same token strings, and against wave 1's
difflib matching (timed on a sample of sentences and scaled, since all 1,000 would take many minutes).

The memory and the work are synthetic Vietnamese bulletin sentences made from templates with varying communes,
dates and figures, so some sentences of the work match a unit exactly, some closely, most not at all.
Target: the job's prefill (loading and encoding the memory included, in a fresh process) <= 10 s on 2 cores.
Run: .venv/bin/python bench/bench_memory.py [--units 50000] [--sentences 1000] [--database URL]
"""
from __future__ import annotations

import argparse
import difflib
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMUNES = ["Nậm Mu", "Tả Van", "Bản Hồ", "Lao Chải", "Sa Pả", "Tả Phìn", "Thanh Kim", "Mường Hum", "Bát Xát",
            "Y Tý", "Đồng Văn", "Lũng Cú", "Mèo Vạc", "Sủng Là", "Phố Bảng", "Hữu Nghị", "Tân Thanh", "Đồng Đăng"]
TEMPLATES = [
    "Ủy ban nhân dân xã {c} thông báo lịch tiêm chủng cho trẻ em dưới {n} tuổi vào ngày {d} tháng {m}.",
    "Mưa lớn kéo dài gây nguy cơ lũ quét và sạt lở đất tại xã {c}, bà con không qua ngầm tràn.",
    "Trạm y tế xã {c} khám bệnh miễn phí cho người cao tuổi từ {n} giờ sáng thứ {w}.",
    "Giá lúa tại chợ {c} hôm nay là {p} nghìn đồng một ki lô gam, tăng {n} phần trăm so với tuần trước.",
    "Đề nghị các hộ gia đình ở thôn {n} xã {c} dọn vệ sinh chuồng trại để phòng dịch tả lợn châu Phi.",
    "Nhiệt độ thấp nhất đêm nay ở vùng núi {c} từ {n} đến {p} độ, đề phòng rét đậm rét hại cho gia súc.",
    "Lớp học tiếng Việt cho phụ nữ dân tộc thiểu số xã {c} khai giảng ngày {d} tháng {m} tại nhà văn hóa.",
    "Người dân xã {c} mang theo căn cước công dân khi đến làm thủ tục cấp thẻ bảo hiểm y tế.",
    "Cửa khẩu {c} tạm dừng thông quan từ {n} giờ đến {p} giờ ngày {d} tháng {m} để sửa chữa đường.",
    "Hội Nông dân xã {c} tập huấn kỹ thuật trồng {k} cho {p} hộ vào sáng thứ {w}.",
]
CROPS = ["ngô", "chè", "quế", "hồi", "thảo quả", "lúa nương", "dong riềng", "mận", "cam", "chuối"]


def sentence(rng: random.Random) -> str:
    return rng.choice(TEMPLATES).format(c=rng.choice(COMMUNES), n=rng.randint(2, 30), p=rng.randint(5, 300),
                                        d=rng.randint(1, 28), m=rng.randint(1, 12), w=rng.randint(2, 7),
                                        k=rng.choice(CROPS))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=50_000)
    ap.add_argument("--sentences", type=int, default=1_000)
    ap.add_argument("--database", default="", help="a database URL (default: a new SQLite file)")
    ap.add_argument("--difflib-sample", type=int, default=10)
    args = ap.parse_args()

    from flask_migrate import upgrade
    from rapidfuzz import fuzz, process

    from media_pipeline.translate import Router
    from storage.models import MemoryUnit
    from studio import create_app
    from studio.extensions import db
    from studio import jobs
    from studio.services import Caller, accounts, memory, translations, works

    rng = random.Random(7)
    units: dict[str, str] = {}
    while len(units) < args.units:
        s = sentence(rng)
        units.setdefault(s, f"EN {len(units)}: {s}")
    work_sentences: list[str] = []
    pool = list(units)
    for i in range(args.sentences):
        work_sentences.append(pool[rng.randrange(len(pool))] if i % 10 == 0 else sentence(rng))
    body = " ".join(work_sentences)

    with tempfile.TemporaryDirectory() as tmp:
        environ = {"STUDIO_INSTANCE": tmp, "STUDIO_S3_URL": "s3://unused:unused@127.0.0.1:9/unused"}
        if args.database:
            environ["STUDIO_DATABASE_URL"] = args.database
        app = create_app({"QUEUE_URL": ""}, environ=environ)
        with app.app_context():
            upgrade()
            s = db.session
            t = time.perf_counter()
            norm = [memory.normalize(x) for x in units]
            s.execute(MemoryUnit.__table__.insert(), [
                {"source_lang": "vi", "target_lang": "en", "source": src, "target": dst, "source_norm": n,
                 "source_hash": memory._hash(n), "length": len(n), "origin": "tmx"}
                for (src, dst), n in zip(units.items(), norm)])
            editor = accounts.create_user(s, Caller(None), "bientap", "bench-password-1", ["editor", "translator"],
                                          system=True)
            s.commit()
            print(f"memory: {memory.count(s, 'vi', 'en')} units stored in {time.perf_counter() - t:.1f} s")
            caller = Caller(editor)
            wid = works.create(s, caller, {"kind": "article", "title": "Bản tin", "body": body,
                                           "source_language": "vi"}).id
            s.commit()

            # Ours: the request creates the translation and queues its job; the job matches every sentence.
            t = time.perf_counter()
            tr, job = translations.start(s, caller, wid, "en", router=None)
            s.commit()
            request_s = time.perf_counter() - t
            t = time.perf_counter()
            [state] = jobs.run_here(s, [job.id], lambda name: Router([]))  # no machine engine: memory only
            ours = time.perf_counter() - t
            s.refresh(tr)
            segments = tr.segments
            filled = [x for x in segments if x["status"] == "memory"]
            exact = sum(1 for x in filled if x["score"] == 1.0)
            print(f"work: {len(segments)} segments; request {request_s * 1000:.0f} ms; job {state} in {ours:.2f} s: "
                  f"{len(filled)} prefilled ({exact} exact, {len(filled) - exact} fuzzy >= "
                  f"{translations.MEMORY_PREFILL})")

            # RapidFuzz alone on the same token strings (already encoded and in memory).
            index = memory._index(s, "vi", "en")
            queries = [index.encode(memory.normalize(x["source"])) for x in segments]
            t = time.perf_counter()
            process.cdist(queries, index.encoded, scorer=fuzz.ratio, score_cutoff=100 * translations.MEMORY_PREFILL,
                          dtype="uint8", workers=-1)
            raw = time.perf_counter() - t

            # Wave 1: difflib per segment over the first 5,000 units in the length window, as memory.lookup did
            # (so it also missed matches beyond those), on a sample.
            sample = segments[1:1 + args.difflib_sample]
            all_norms = [(n, u) for n, u in zip(norm, units)]
            t = time.perf_counter()
            for seg in sample:
                q = memory.normalize(seg["source"])
                ms = translations.MEMORY_PREFILL
                lo, hi = int(len(q) * ms / (2 - ms)), int(len(q) * (2 - ms) / ms) + 1
                for n in [n for n, _ in all_norms if lo <= len(n) <= hi][:5000]:
                    difflib.SequenceMatcher(None, q, n, autojunk=False).ratio()
            wave1 = (time.perf_counter() - t) / len(sample) * len(segments)

    print(f"\n{'':34}{'seconds':>10}{'ours / it':>12}")
    print(f"{'ours: the translate job':34}{ours:>10.2f}{1:>12.2f}")
    print(f"{'RapidFuzz cdist alone':34}{raw:>10.2f}{ours / raw:>12.2f}")
    print(f"{'wave 1 difflib (scaled from ' + str(len(sample)) + ')':34}{wave1:>10.1f}{ours / wave1:>12.4f}")
    print(f"\ntarget: prefill <= 10 s: {'met' if ours <= 10 else 'MISSED'} ({ours:.2f} s)")


if __name__ == "__main__":
    main()
