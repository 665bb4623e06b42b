"""reading rules in the database: a province's rules from the instance file of earlier versions move to settings

Revision ID: d4e5f6a7b8c9
Revises: c3d4e5f6a7b8
Create Date: 2026-11-23 18:00:00

"""
import json
from datetime import datetime, timezone
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = 'd4e5f6a7b8c9'
down_revision = 'c3d4e5f6a7b8'
branch_labels = None
depends_on = None


def _legacy_file():
    """The rules file earlier versions read (STUDIO_NORMALIZATION_FILE, else INSTANCE/normalize_vi.json)."""
    try:
        from flask import current_app
        return current_app.config.get("NORMALIZATION_FILE")
    except (ImportError, RuntimeError):  # run outside the app: nothing to carry over
        return None


def upgrade():
    path = _legacy_file()
    if not path or not Path(path).is_file():
        return
    try:
        rules = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the old reader ignored a broken file too; it stays where it is for an admin to look at
    if not isinstance(rules, dict):
        return
    settings = sa.table("settings", sa.column("key", sa.String), sa.column("value", sa.JSON),
                        sa.column("updated_at", sa.DateTime))
    bind = op.get_bind()
    if bind.execute(sa.select(settings.c.key).where(settings.c.key == "reading_rules")).first() is None:
        bind.execute(settings.insert().values(key="reading_rules", value=rules,
                                              updated_at=datetime.now(timezone.utc).replace(tzinfo=None)))


def downgrade():
    pass  # the rules stay in the settings table; earlier versions ignore that row
