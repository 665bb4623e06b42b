"""`studio models`: install, download and list machine translation packages (Argos format) and Piper voices."""
from __future__ import annotations

import sys
from pathlib import Path

from media_pipeline.errors import EngineError
from media_pipeline.translate import argos


def _models_dir() -> Path:
    from studio.config import load_config
    return Path(load_config()["TRANSLATION_MODELS"])


def _print(packages: list[argos.PackageInfo]) -> None:
    for p in packages:
        print(f"{p.from_code}→{p.to_code}  version {p.version or '?'}  {p.path}")


def cmd_install(args) -> int:
    """Install .argosmodel files, or a Piper voice (VOICE.onnx with VOICE.onnx.json), after checking them; a bad
    file installs nothing."""
    try:
        if Path(args.path).suffix == ".onnx":
            from media_pipeline.tts import piper
            from studio.config import load_config
            folder = Path(load_config()["PIPER_MODELS"])
            voice = piper.install(Path(args.path), folder)
            print(f"Piper voice {voice} installed in {folder}; choose it for a language on the media settings page "
                  "(STUDIO_TTS_ENGINES must name piper)")
            return 0
        _print(argos.install(Path(args.path), _models_dir()))
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_download(args) -> int:
    """Fetch a package from the Argos index (needs the Internet) and install it."""
    from studio.config import load_config
    try:
        _print(argos.download(args.source, args.target, _models_dir(), load_config()["ARGOS_INDEX_URL"]))
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_list(args) -> int:
    """Show installed packages."""
    found = argos.installed(_models_dir())
    if not found:
        print(f"No translation packages in {_models_dir() / 'argos'}. Add one with `studio models install FILE`.")
    _print(found)
    from studio.config import load_config
    folder = Path(load_config()["PIPER_MODELS"])
    for cfg in sorted(folder.glob("*.onnx.json")) if folder.is_dir() else []:
        print(f"Piper voice {cfg.name[:-len('.onnx.json')]}  {folder}")
    return 0


def add_parser(sub) -> None:
    """Register `studio models ...` on the main parser."""
    m = sub.add_parser("models", help="machine translation packages (Argos .argosmodel) and Piper voices")
    msub = m.add_subparsers(dest="models_command", required=True)
    i = msub.add_parser("install", help="install an .argosmodel file (or every one in a folder) or a Piper voice "
                                        "VOICE.onnx with VOICE.onnx.json beside it")
    i.add_argument("path")
    i.set_defaults(func=cmd_install)
    d = msub.add_parser("download", help="download and install the package for a pair (online only)")
    d.add_argument("source")
    d.add_argument("target")
    d.set_defaults(func=cmd_download)
    msub.add_parser("list", help="list installed packages").set_defaults(func=cmd_list)
