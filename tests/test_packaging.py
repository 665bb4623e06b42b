"""The built wheel carries what an installed studio needs outside Python modules."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_templates_migrations_catalogues_and_static(tmp_path):
    # Build from a copy without build outputs: a stale build/ folder would hide a file missing from the wheel.
    import shutil
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "instance",
                                                               "test-artifacts", "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(src)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("studio-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").rglob("*.html"):
        assert "studio/templates/" + template.relative_to(ROOT / "templates").as_posix() in names
    for migration in (ROOT / "storage" / "migrations" / "versions").glob("*.py"):
        assert f"storage/migrations/versions/{migration.name}" in names
    for package in ("studio", "storage", "media_pipeline"):
        for module in (ROOT / package).rglob("*.py"):
            rel = module.relative_to(ROOT).as_posix()
            assert rel in names, f"{rel} is not in the wheel: add its package to pyproject.toml"
    assert "media_pipeline/data/normalize_vi.json" in names
    assert {"storage/migrations/env.py", "studio/translations/vi/LC_MESSAGES/messages.mo",
            "studio/web/static/studio.js", "studio/web/static/studio.css"} <= names
    entry = [n for n in names if n.endswith("entry_points.txt")][0]
    assert "studio = studio.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_sqlite_runs_in_wal_mode(app):
    from sqlalchemy import text

    from studio.extensions import db
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
