"""search text folded for case- and diacritic-insensitive search, trigram-indexed

Revision ID: b7c8d9e0f1a2
Revises: a1b2c3d4e5f6
Create Date: 2026-11-23 08:30:00

"""
import json
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = 'b7c8d9e0f1a2'
down_revision = 'a1b2c3d4e5f6'
branch_labels = None
depends_on = None


def _fold(text):  # as media_pipeline.text.unicode.fold at the time of this migration
    decomposed = unicodedata.normalize("NFD", (text or "").lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").replace("đ", "d")


def upgrade():
    with op.batch_alter_table('works', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), server_default='', nullable=False))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title, summary, body, topics, chapters FROM works")).fetchall()
    for r in rows:
        topics = r.topics if isinstance(r.topics, list) else json.loads(r.topics or "[]")
        chapters = r.chapters if isinstance(r.chapters, list) else json.loads(r.chapters or "[]")
        text = "\n".join([r.title or "", r.summary or "", r.body or "", " ".join(topics)] +
                         [f"{c.get('title', '')}\n{c.get('body', '')}" for c in chapters])
        bind.execute(sa.text("UPDATE works SET search_text = :t WHERE id = :i"), {"t": _fold(text), "i": r.id})
    if bind.dialect.name == "sqlite":
        # An external-content FTS5 table with the trigram tokenizer answers LIKE '%...%' from its index.
        op.execute("CREATE VIRTUAL TABLE works_search USING fts5(search_text, content='works', "
                   "content_rowid='id', tokenize='trigram')")
        op.execute("INSERT INTO works_search(rowid, search_text) SELECT id, search_text FROM works")
        op.execute("CREATE TRIGGER works_search_ai AFTER INSERT ON works BEGIN "
                   "INSERT INTO works_search(rowid, search_text) VALUES (new.id, new.search_text); END")
        op.execute("CREATE TRIGGER works_search_ad AFTER DELETE ON works BEGIN "
                   "INSERT INTO works_search(works_search, rowid, search_text) "
                   "VALUES ('delete', old.id, old.search_text); END")
        op.execute("CREATE TRIGGER works_search_au AFTER UPDATE OF search_text ON works BEGIN "
                   "INSERT INTO works_search(works_search, rowid, search_text) "
                   "VALUES ('delete', old.id, old.search_text); "
                   "INSERT INTO works_search(rowid, search_text) VALUES (new.id, new.search_text); END")
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_works_search_trgm ON works USING gin (search_text gin_trgm_ops)")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("works_search_ai", "works_search_ad", "works_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS works_search")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_works_search_trgm")
    with op.batch_alter_table('works', schema=None) as batch_op:
        batch_op.drop_column('search_text')
