"""Supporter privacy: confirmations bind content, per-address limits, receipts.

Messages get the mailbox key of their sender's address (for the weekly rule), the digest of
what their confirmation was asked for, whether they are over the weekly limit, and when their
receipt went. Two small tables count emails per mailbox and remember used form tokens.

Revision ID: 65fba1ea927c
Revises: d94f4674d126
Create Date: 2026-12-02 15:01:36.179944
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "65fba1ea927c"
down_revision: str | Sequence[str] | None = "d94f4674d126"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX, which SQLite does itself: no batch copy of the
    # tables, and `letters db upgrade --sql` can print it without a database to reflect.
    op.create_table(
        "address_email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("address_email_pkey")),
    )
    op.create_index(
        "ix_address_email_address_hash_created_at",
        "address_email",
        ["address_hash", "created_at"],
        unique=False,
    )
    op.create_table(
        "used_form_token",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("used_form_token_pkey")),
    )
    op.create_index(
        op.f("ix_used_form_token_used_at"), "used_form_token", ["used_at"], unique=False
    )
    op.add_column(
        "message",
        sa.Column("sender_email_key", sa.String(length=254), server_default="", nullable=False),
    )
    op.add_column(
        "message",
        sa.Column("confirmation_digest", sa.String(length=64), server_default="", nullable=False),
    )
    op.add_column(
        "message",
        sa.Column("over_weekly_limit", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("message", sa.Column("receipt_sent_at", sa.DateTime(timezone=True)))
    op.create_index(
        op.f("ix_message_sender_email_key"), "message", ["sender_email_key"], unique=False
    )
    # Letters written before keep a simpler key (case and spaces only, no tags or dots): the
    # weekly rule looks back 7 days, so within a week every letter it sees has the full key.
    op.execute(
        "UPDATE message SET sender_email_key = lower(trim(sender_email)) WHERE sender_email <> ''"
    )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_sender_email_key"))
        batch_op.drop_column("receipt_sent_at")
        batch_op.drop_column("over_weekly_limit")
        batch_op.drop_column("confirmation_digest")
        batch_op.drop_column("sender_email_key")

    with op.batch_alter_table("used_form_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_form_token_used_at"))

    op.drop_table("used_form_token")
    with op.batch_alter_table("address_email", schema=None) as batch_op:
        batch_op.drop_index("ix_address_email_address_hash_created_at")

    op.drop_table("address_email")
