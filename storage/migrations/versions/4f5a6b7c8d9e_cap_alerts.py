"""CAP alerts: trusted senders, alerts taken in, polled sources

Revision ID: 4f5a6b7c8d9e
Revises: 3e4f5a6b7c8d
Create Date: 2026-12-04 05:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '4f5a6b7c8d9e'
down_revision = '3e4f5a6b7c8d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cap_senders',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('sender', sa.String(length=200), nullable=False, unique=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('policy', sa.String(length=16), nullable=False),
        sa.Column('certificate', sa.Text(), nullable=False),
        sa.Column('require_signature', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'cap_alerts',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('identifier', sa.String(length=200), nullable=False),
        sa.Column('sender', sa.String(length=200), nullable=False),
        sa.Column('sent', sa.DateTime(), nullable=False),
        sa.Column('msg_type', sa.String(length=16), nullable=False),
        sa.Column('references', sa.JSON(), nullable=False),
        sa.Column('work_id', sa.Integer(), sa.ForeignKey('works.id', ondelete='SET NULL'), nullable=True),
        sa.Column('origin', sa.String(length=500), nullable=False),
        sa.Column('signed', sa.Boolean(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('info', sa.JSON(), nullable=False),
        sa.Column('document', sa.Text(), nullable=False),
        sa.Column('received_by_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('sender', 'identifier', name='uq_cap_alert_sender_identifier'),
    )
    op.create_index('ix_cap_alerts_work_id', 'cap_alerts', ['work_id'])
    op.create_table(
        'cap_sources',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('url', sa.String(length=500), nullable=False, unique=True),
        sa.Column('etag', sa.String(length=200), nullable=False),
        sa.Column('last_modified', sa.String(length=100), nullable=False),
        sa.Column('next_poll_at', sa.DateTime(), nullable=True),
        sa.Column('last_poll_at', sa.DateTime(), nullable=True),
        sa.Column('last_ok_at', sa.DateTime(), nullable=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('error_code', sa.String(length=64), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=False),
        sa.Column('alerts', sa.Integer(), nullable=False),
        sa.Column('seen', sa.JSON(), nullable=False),
    )


def downgrade():
    op.drop_table('cap_sources')
    op.drop_index('ix_cap_alerts_work_id', table_name='cap_alerts')
    op.drop_table('cap_alerts')
    op.drop_table('cap_senders')
