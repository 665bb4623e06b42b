"""job lanes, dependencies, pinned revisions, timeouts and error codes

Revision ID: a1b2c3d4e5f6
Revises: ef037e0e8573
Create Date: 2026-11-23 07:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a1b2c3d4e5f6'
down_revision = 'ef037e0e8573'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rank', sa.Integer(), server_default='3', nullable=False))
        batch_op.add_column(sa.Column('priority', sa.String(length=16), server_default='normal', nullable=False))
        batch_op.add_column(sa.Column('run_after', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('depends_on', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('wait_for', sa.String(length=8), server_default='success', nullable=False))
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('timeout_s', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('error_code', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('error_message', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('error_params', sa.JSON(), server_default='{}', nullable=False))
        batch_op.create_index('ix_jobs_claim', ['state', 'rank', 'id'])
    with op.batch_alter_table('endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('languages', sa.JSON(), server_default='[]', nullable=False))
    # Delivery jobs claim ahead of renders from now on.
    op.execute("UPDATE jobs SET rank = 1 WHERE kind IN ('publish', 'feeds')")


def downgrade():
    with op.batch_alter_table('endpoints', schema=None) as batch_op:
        batch_op.drop_column('languages')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_claim')
        for col in ('error_params', 'error_message', 'error_code', 'timeout_s', 'revision', 'wait_for', 'depends_on',
                    'run_after', 'priority', 'rank'):
            batch_op.drop_column(col)
