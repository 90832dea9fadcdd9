"""Organiser sessions kept on the server, and a per-account delay after wrong passwords.

Revision ID: 3c1e9a7b5d20
Revises: 3b7c9e1d2a40
Create Date: 2026-12-02 18:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1e9a7b5d20"
down_revision: str | Sequence[str] | None = "3b7c9e1d2a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organiser_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organiser.id"],
            name=op.f("organiser_session_organiser_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("organiser_session_pkey")),
    )
    op.create_index(
        op.f("ix_organiser_session_organiser_id"),
        "organiser_session",
        ["organiser_id"],
        unique=False,
    )
    # Plain ADD COLUMN, which SQLite does itself.
    op.add_column(
        "organiser",
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "organiser", sa.Column("login_wait_until", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("organiser", schema=None) as batch_op:
        batch_op.drop_column("login_wait_until")
        batch_op.drop_column("failed_logins")
    with op.batch_alter_table("organiser_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organiser_session_organiser_id"))
    op.drop_table("organiser_session")
