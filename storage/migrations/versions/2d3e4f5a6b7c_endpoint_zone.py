"""endpoints get a zone: a named group of one commune's loudspeaker clusters (a village)

Revision ID: 2d3e4f5a6b7c
Revises: 1c2d3e4f5a6b
Create Date: 2026-12-03 20:10:00

"""
import sqlalchemy as sa
from alembic import op


revision = '2d3e4f5a6b7c'
down_revision = '1c2d3e4f5a6b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('endpoints') as batch:
        batch.add_column(sa.Column('zone', sa.String(length=100), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('endpoints') as batch:
        batch.drop_column('zone')
