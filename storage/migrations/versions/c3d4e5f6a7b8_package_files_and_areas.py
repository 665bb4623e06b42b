"""package files and areas as rows: the one feed query filters kind, area chain, display and language in SQL

Revision ID: c3d4e5f6a7b8
Revises: b7c8d9e0f1a2
Create Date: 2026-11-23 10:00:00

"""
import json

from alembic import op
import sqlalchemy as sa


revision = 'c3d4e5f6a7b8'
down_revision = 'b7c8d9e0f1a2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'package_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('profile', sa.String(length=64), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('width', sa.Integer(), nullable=True),
        sa.Column('height', sa.Integer(), nullable=True),
        sa.Column('entry', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_package_files_package_channel', 'package_files', ['package_id', 'channel'])
    op.create_table(
        'package_areas',
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('package_id', 'code'))
    op.create_index(op.f('ix_package_areas_code'), 'package_areas', ['code'])
    bind = op.get_bind()
    files = sa.table('package_files', *(sa.column(c) for c in (
        'package_id', 'position', 'channel', 'profile', 'language', 'role', 'width', 'height')),
        sa.column('entry', sa.JSON()))
    areas = sa.table('package_areas', sa.column('package_id'), sa.column('code'))
    for r in bind.execute(sa.text("SELECT id, manifest, area_codes FROM packages")).fetchall():
        manifest = r.manifest if isinstance(r.manifest, dict) else json.loads(r.manifest or "{}")
        codes = r.area_codes if isinstance(r.area_codes, list) else json.loads(r.area_codes or "[]")
        rows = [{"package_id": r.id, "position": i, "channel": f["channel"], "profile": f["profile"],
                 "language": f["language"], "role": f["role"], "width": f.get("width"), "height": f.get("height"),
                 "entry": f} for i, f in enumerate(manifest.get("files", []))]
        if rows:
            op.bulk_insert(files, rows)
        if codes:
            op.bulk_insert(areas, [{"package_id": r.id, "code": c} for c in sorted(set(codes))])


def downgrade():
    op.drop_index(op.f('ix_package_areas_code'), table_name='package_areas')
    op.drop_table('package_areas')
    op.drop_index('ix_package_files_package_channel', table_name='package_files')
    op.drop_table('package_files')
