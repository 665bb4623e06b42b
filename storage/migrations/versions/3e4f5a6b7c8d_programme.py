"""the commune's programme: operators bound to areas, schedules, programme items, plays of an occurrence

Revision ID: 3e4f5a6b7c8d
Revises: 2d3e4f5a6b7c
Create Date: 2026-12-04 01:30:00

"""
import sqlalchemy as sa
from alembic import op


revision = '3e4f5a6b7c8d'
down_revision = '2d3e4f5a6b7c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_areas',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('area_id', sa.Integer(), sa.ForeignKey('areas.id', ondelete='CASCADE'), primary_key=True),
    )
    # A user's one area becomes the first of their areas.
    op.execute("INSERT INTO user_areas (user_id, area_id) SELECT id, area_id FROM users WHERE area_id IS NOT NULL")
    with op.batch_alter_table('users') as batch:
        batch.drop_column('area_id')
    op.create_table(
        'schedules',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('work_id', sa.Integer(), sa.ForeignKey('works.id', ondelete='CASCADE'), nullable=False),
        sa.Column('area_codes', sa.JSON(), nullable=False),
        sa.Column('zone', sa.String(length=100), nullable=False),
        sa.Column('start_at', sa.DateTime(), nullable=False),
        sa.Column('rrule', sa.Text(), nullable=False),
        sa.Column('replays', sa.Integer(), nullable=False),
        sa.Column('replay_gap_s', sa.Integer(), nullable=False),
        sa.Column('priority', sa.String(length=16), nullable=False),
        sa.Column('created_by_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_schedules_work_id', 'schedules', ['work_id'])
    op.create_table(
        'programme_items',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('schedule_id', sa.Integer(), sa.ForeignKey('schedules.id', ondelete='CASCADE'), nullable=True),
        sa.Column('work_id', sa.Integer(), sa.ForeignKey('works.id', ondelete='CASCADE'), nullable=True),
        sa.Column('area_id', sa.Integer(), sa.ForeignKey('areas.id', ondelete='CASCADE'), nullable=False),
        sa.Column('zone', sa.String(length=100), nullable=False),
        sa.Column('origin', sa.String(length=16), nullable=False),
        sa.Column('priority', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('start_at', sa.DateTime(), nullable=False),
        sa.Column('rrule', sa.Text(), nullable=False),
        sa.Column('replays', sa.Integer(), nullable=False),
        sa.Column('replay_gap_s', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('relay_url', sa.String(length=500), nullable=False),
        sa.Column('duration_s', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('created_by_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_programme_items_schedule_id', 'programme_items', ['schedule_id'])
    op.create_index('ix_programme_items_work_id', 'programme_items', ['work_id'])
    op.create_index('ix_programme_items_area_state', 'programme_items', ['area_id', 'state'])
    with op.batch_alter_table('endpoint_reports') as batch:
        batch.add_column(sa.Column('scheduled_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('item_id', sa.Integer(), nullable=True))
    # Covering the as-run's read (studio/services/asrun.py): the rows themselves are never visited.
    op.create_index('ix_endpoint_reports_scheduled', 'endpoint_reports',
                    ['scheduled_at', 'endpoint_id', 'item_id', 'outcome'])


def downgrade():
    op.drop_index('ix_endpoint_reports_scheduled', table_name='endpoint_reports')
    with op.batch_alter_table('endpoint_reports') as batch:
        batch.drop_column('item_id')
        batch.drop_column('scheduled_at')
    op.drop_table('programme_items')
    op.drop_table('schedules')
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('area_id', sa.Integer(), sa.ForeignKey('areas.id'), nullable=True))
    op.execute("UPDATE users SET area_id = (SELECT MIN(area_id) FROM user_areas WHERE user_areas.user_id = users.id)")
    op.drop_table('user_areas')
