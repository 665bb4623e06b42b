"""Dependencies point one way: studio/web -> studio/services -> media_pipeline -> storage."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(package: str):
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue  # Alembic's env.py is Flask-Migrate's glue, not part of the storage API
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield path, node.module


def test_storage_and_media_pipeline_never_import_studio():
    bad = [(str(p), m) for pkg in ("storage", "media_pipeline") for p, m in imports_of(pkg)
           if m == "studio" or m.startswith("studio.")]
    assert not bad


def test_services_never_import_flask_or_web():
    bad = [(str(p), m) for p, m in imports_of("studio/services")
           if m.split(".")[0] in ("flask", "flask_babel", "flask_login", "flask_wtf", "werkzeug.wrappers")
           or m.startswith("studio.web")]
    assert not bad


def test_storage_never_imports_media_pipeline():
    assert not [(str(p), m) for p, m in imports_of("storage") if m.startswith("media_pipeline")]


def test_nothing_heavy_happens_at_import(tmp_path):
    """Importing every module starts no process and opens no socket."""
    import subprocess
    import sys
    code = ("import socket, subprocess\n"
            "def boom(*a, **k): raise SystemExit('network or process at import time')\n"
            "socket.socket.connect = boom; subprocess.Popen.__init__ = boom\n"
            "import studio, studio.cli, studio.web, studio.web.api, studio.web.works, studio.web.admin\n"
            "import storage.objectstore, storage.seaweed, storage.models, media_pipeline.probe\n"
            "print('clean')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "clean", out.stderr
