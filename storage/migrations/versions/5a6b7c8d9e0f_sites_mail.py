"""commune sites: site settings, questions to an area, citizens' e-mail, the mail outbox

Revision ID: 5a6b7c8d9e0f
Revises: 4f5a6b7c8d9e
Create Date: 2026-12-04 06:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '5a6b7c8d9e0f'
down_revision = '4f5a6b7c8d9e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('feedback') as batch:
        batch.alter_column('work_id', existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column('area_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('email', sa.String(length=200), server_default='', nullable=False))
        batch.add_column(sa.Column('notify', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_foreign_key('fk_feedback_area_id_areas', 'areas', ['area_id'], ['id'], ondelete='SET NULL')
        batch.create_index('ix_feedback_area_id', ['area_id'])
    op.create_table(
        'sites',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('area_id', sa.Integer(), sa.ForeignKey('areas.id', ondelete='CASCADE'), nullable=False,
                  unique=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('contact', sa.Text(), nullable=False),
        sa.Column('address', sa.Text(), nullable=False),
        sa.Column('logo_key', sa.String(length=200), nullable=False),
        sa.Column('logo_width', sa.Integer(), nullable=True),
        sa.Column('logo_height', sa.Integer(), nullable=True),
        sa.Column('updated_by_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'mail_messages',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('to', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('html', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('feedback_id', sa.Integer(), sa.ForeignKey('feedback.id', ondelete='SET NULL'), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
    )
    op.create_index('ix_mail_messages_state', 'mail_messages', ['state', 'id'])


def downgrade():
    op.drop_index('ix_mail_messages_state', table_name='mail_messages')
    op.drop_table('mail_messages')
    op.drop_table('sites')
    op.execute("DELETE FROM feedback WHERE work_id IS NULL")
    with op.batch_alter_table('feedback') as batch:
        batch.drop_index('ix_feedback_area_id')
        batch.drop_constraint('fk_feedback_area_id_areas', type_='foreignkey')
        batch.drop_column('notify')
        batch.drop_column('email')
        batch.drop_column('area_id')
        batch.alter_column('work_id', existing_type=sa.Integer(), nullable=False)
