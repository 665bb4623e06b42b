"""a covering index for counting plays and hours of contact per endpoint (the annual report, the network page)

Revision ID: f6a7b8c9d0e1
Revises: e5f6a7b8c9d0
Create Date: 2026-11-23 18:40:00

"""
from alembic import op


revision = 'f6a7b8c9d0e1'
down_revision = 'e5f6a7b8c9d0'
branch_labels = None
depends_on = None


def upgrade():
    # The report scans a year of reports per endpoint: reading this narrow index instead of the table's wide
    # rows (file hash, client id, JSON) made it 3x faster on SQLite (bench/bench_report.py).
    op.create_index('ix_endpoint_reports_cover', 'endpoint_reports',
                    ['endpoint_id', 'type', 'started_at', 'ended_at', 'received_at'])


def downgrade():
    op.drop_index('ix_endpoint_reports_cover', table_name='endpoint_reports')
