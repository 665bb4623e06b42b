"""a rendition record per work and revision: two works with identical content share the files, not the record

Revision ID: 0b1c2d3e4f5a
Revises: f6a7b8c9d0e1
Create Date: 2026-12-03 11:00:00

"""
from alembic import op


revision = '0b1c2d3e4f5a'
down_revision = 'f6a7b8c9d0e1'
branch_labels = None
depends_on = None

# The unique key constraint was created unnamed: PostgreSQL named it renditions_key_key; SQLite's copy is found
# by reflection under the naming convention below.
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_name() -> str:
    return "renditions_key_key" if op.get_bind().dialect.name == "postgresql" else "uq_renditions_key"


def upgrade():
    with op.batch_alter_table('renditions', naming_convention=_CONVENTION) as batch:
        batch.drop_constraint(_old_name(), type_='unique')
        batch.create_unique_constraint('uq_rendition_key_work_revision', ['key', 'work_id', 'revision'])
        batch.create_index('ix_renditions_key', ['key'])


def downgrade():
    with op.batch_alter_table('renditions', naming_convention=_CONVENTION) as batch:
        batch.drop_index('ix_renditions_key')
        batch.drop_constraint('uq_rendition_key_work_revision', type_='unique')
        batch.create_unique_constraint(_old_name(), ['key'])
