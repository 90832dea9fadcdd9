"""Own-words shingles: the nudge compares only the supporter's own words, through an index.

A table of (letter, shingle, division, when written), indexed by division and shingle, takes
the place of the whole-letter shingles each message held: comparing whole letters called
nearly every letter a copy, since the campaign's paragraphs are shared by design. Letters of
the last four weeks that still have their own words are filed into it.

Revision ID: 5e2d8c41a9f3
Revises: b3c1f0a7e912
Create Date: 2026-12-03 09:00:00.000000
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from letters import clock
from letters.domain.own_words import shingles

revision: str = "5e2d8c41a9f3"
down_revision: str | Sequence[str] | None = "b3c1f0a7e912"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WINDOW = dt.timedelta(weeks=4)  # letters older than this are never compared with


def upgrade() -> None:
    table = op.create_table(
        "own_words_shingle",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("shingle", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("division", sa.String(length=100), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
            name=op.f("own_words_shingle_message_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "shingle", name=op.f("own_words_shingle_pkey")),
    )
    op.create_index(
        "ix_own_words_shingle_division_shingle",
        "own_words_shingle",
        ["division", "shingle", "written_at"],
        unique=False,
    )
    # Plain DROP COLUMN, which SQLite (3.35 and later) does itself: no batch copy of the
    # message table, and `letters db upgrade --sql` can print it without a database.
    op.drop_column("message", "shingles")
    if not context.is_offline_mode():  # printed SQL has no rows to read
        _file_recent_letters(table)


def _file_recent_letters(table: sa.Table) -> None:
    """File the own words of recent letters, with the same hashes the app computes."""
    message = sa.table(
        "message",
        sa.column("id", sa.Uuid()),
        sa.column("division", sa.String()),
        sa.column("personal_note", sa.Text()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("scrubbed_at", sa.DateTime(timezone=True)),
    )
    since = clock.now() - WINDOW
    connection = op.get_bind()
    letters = connection.execute(
        sa.select(
            message.c.id, message.c.division, message.c.personal_note, message.c.created_at
        ).where(
            message.c.personal_note != "",
            message.c.scrubbed_at.is_(None),
            message.c.created_at >= since,
        )
    ).all()
    for message_id, division, note, created_at in letters:
        rows = [
            {"message_id": message_id, "shingle": s, "division": division, "written_at": created_at}
            for s in shingles(note)
        ]
        if rows:
            connection.execute(table.insert(), rows)


def downgrade() -> None:
    # The old code reads an empty list as "nothing to compare": letters get no warning until
    # they are saved again.
    op.add_column("message", sa.Column("shingles", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("own_words_shingle", schema=None) as batch_op:
        batch_op.drop_index("ix_own_words_shingle_division_shingle")
    op.drop_table("own_words_shingle")
