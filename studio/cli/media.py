"""`studio transcribe` (speech recognition of a file) and `studio normalize` (what the voice reads)."""
from __future__ import annotations

import sys
from pathlib import Path

from studio.cli.common import running_studio


def cmd_transcribe(args) -> int:
    """Print a recording's transcript as JSON (text and timed segments), SRT or WebVTT."""
    import json

    from media_pipeline import asr, captions
    from media_pipeline.errors import EngineError, InvalidMedia
    from media_pipeline import tools
    from studio.config import load_config
    cfg = load_config()
    tools.configure(cfg["TOOL_BINARIES"])  # ffmpeg decodes the recording
    spec = args.model or cfg["WHISPER_MODEL"]
    if not spec:
        print("error: speech recognition is off (STUDIO_WHISPER_MODEL is empty)", file=sys.stderr)
        return 2
    path = Path(args.file)
    if not path.exists():
        print(f"error: {path} does not exist", file=sys.stderr)
        return 2
    try:
        model = asr.load_model(spec, Path(cfg["MODEL_CACHE"]))

        def progress(fraction: float) -> None:
            if args.progress:
                print(f"{fraction * 100:5.1f}%", file=sys.stderr, flush=True)
        result = asr.transcribe(path, model, args.language, args.beam, progress)
    except InvalidMedia as exc:
        print(f"error: {path.name} is not a recording the studio can read: {exc}", file=sys.stderr)
        return 2
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "srt":
        print(captions.to_srt(result.segments))
    elif args.format == "vtt":
        print(captions.to_vtt(result.segments, result.language))
    else:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    return 0


def cmd_normalize(args) -> int:
    """Print, line for line, exactly what the voice reads for each line of standard input (the packaged rules
    and the province's own, from the database)."""
    from studio.config import load_config
    from studio.extensions import db
    from studio.services import voices
    lines = sys.stdin.read().splitlines()
    with running_studio(load_config(), with_store=False, quiet=True) as (app, _password):
        with app.app_context():
            spoken = voices.spoken(db.session, args.language, [x for x in lines if x.strip()])
    said = iter(spoken)
    for line in lines:
        print(next(said) if line.strip() else "")
    return 0
