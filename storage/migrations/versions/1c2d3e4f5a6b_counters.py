"""system counters leave the settings table: the feeds generation moves to its own table, counters

Revision ID: 1c2d3e4f5a6b
Revises: 0b1c2d3e4f5a
Create Date: 2026-12-03 19:30:00

"""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op


revision = '1c2d3e4f5a6b'
down_revision = '0b1c2d3e4f5a'
branch_labels = None
depends_on = None


def upgrade():
    counters = op.create_table(
        'counters',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('value', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name'))
    bind = op.get_bind()
    row = bind.execute(sa.text("SELECT value FROM settings WHERE key = 'feeds'")).first()
    if row is not None:
        value = row[0] if isinstance(row[0], dict) else json.loads(row[0] or "{}")
        op.bulk_insert(counters, [{'name': 'feeds', 'value': int((value or {}).get('gen', 0))}])
        bind.execute(sa.text("DELETE FROM settings WHERE key = 'feeds'"))


def downgrade():
    bind = op.get_bind()
    row = bind.execute(sa.text("SELECT value FROM counters WHERE name = 'feeds'")).first()
    if row is not None:
        settings = sa.table('settings', sa.column('key', sa.String), sa.column('value', sa.JSON),
                            sa.column('updated_at', sa.DateTime))
        op.bulk_insert(settings, [{'key': 'feeds', 'value': {'gen': int(row[0])},
                                   'updated_at': datetime.now(timezone.utc).replace(tzinfo=None)}])
    op.drop_table('counters')
