"""Event retention and print-run heartbeats.

Events record when their attendees' details were removed (attendees keep whether they wrote
in their own words); print runs get attempts, heartbeats and when their files went.

Revision ID: f730c0bba9ec
Revises: 8035522d4b4a
Create Date: 2026-11-28 03:24:59.538927
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f730c0bba9ec"
down_revision: str | Sequence[str] | None = "8035522d4b4a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, which SQLite does itself: no batch copy of the tables, and
    # `letters db upgrade --sql` can print it without a database to reflect.
    op.add_column(
        "attendee",
        sa.Column("wrote_own_words", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("batch_job", sa.Column("files_removed_at", sa.DateTime(timezone=True)))
    op.add_column(
        "batch_job", sa.Column("attempt", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("batch_job", sa.Column("heartbeat_at", sa.DateTime(timezone=True)))
    op.add_column("event", sa.Column("personal_data_removed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("personal_data_removed_at")

    with op.batch_alter_table("batch_job", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("attempt")
        batch_op.drop_column("files_removed_at")

    with op.batch_alter_table("attendee", schema=None) as batch_op:
        batch_op.drop_column("wrote_own_words")
