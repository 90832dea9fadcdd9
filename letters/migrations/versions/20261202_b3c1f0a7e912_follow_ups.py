"""Follow-ups: asking supporters whether their MP replied, and their answers.

Revision ID: b3c1f0a7e912
Revises: 3c1e9a7b5d20
Create Date: 2026-12-02 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3c1f0a7e912"
down_revision: str | Sequence[str] | None = "3c1e9a7b5d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follow_up",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("asked_again_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=20), server_default="", nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_text", sa.Text(), server_default="", nullable=False),
        sa.Column("reply_shared", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("stop_asking", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
            name=op.f("follow_up_message_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("follow_up_pkey")),
    )


def downgrade() -> None:
    op.drop_table("follow_up")
