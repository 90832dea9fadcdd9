"""Event follow-ups: attendees' consent and printing time; a follow-up of a letter or an attendee.

A follow_up row was named by its letter (message_id, the primary key). It now has an id of
its own, which for the rows already there is their letter's id (what the code still gives a
letter's row), and belongs to a letter or to an attendee, never both.

Revision ID: c4d2e8f1a6b3
Revises: 5e2d8c41a9f3
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4d2e8f1a6b3"
down_revision: str | Sequence[str] | None = "5e2d8c41a9f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _follow_up_as_it_was() -> sa.Table:
    """follow_up as b3c1f0a7e912 made it, with the id column added below: SQLite's batch mode
    copies the table from this rather than reflecting it, so `letters db upgrade --sql` works."""
    return sa.Table(
        "follow_up",
        sa.MetaData(),
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
        sa.Column("id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["message.id"], name="follow_up_message_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", name="follow_up_pkey"),
    )


def upgrade() -> None:
    op.add_column(
        "attendee",
        sa.Column("may_follow_up", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("attendee", sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True))

    op.add_column("follow_up", sa.Column("id", sa.Uuid(), nullable=True))
    op.execute("UPDATE follow_up SET id = message_id")
    # SQLite copies the table (batch mode); PostgreSQL alters it in place. Either way the old
    # primary key goes first: the new one takes its name.
    with op.batch_alter_table("follow_up", copy_from=_follow_up_as_it_was()) as batch_op:
        batch_op.drop_constraint("follow_up_pkey", type_="primary")
        batch_op.alter_column("id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("message_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_primary_key("follow_up_pkey", ["id"])
        batch_op.add_column(sa.Column("attendee_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("follow_up_message_id_key", ["message_id"])
        batch_op.create_unique_constraint("follow_up_attendee_id_key", ["attendee_id"])
        batch_op.create_unique_constraint("follow_up_token_key", ["token"])
        batch_op.create_foreign_key(
            "follow_up_attendee_id_fkey", "attendee", ["attendee_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_check_constraint(
            "follow_up_one_letter_check", "(message_id IS NULL) <> (attendee_id IS NULL)"
        )


def downgrade() -> None:
    # Attendees' follow-ups have no letter to be named by: they go.
    op.execute("DELETE FROM follow_up WHERE message_id IS NULL")
    with op.batch_alter_table("follow_up") as batch_op:
        batch_op.drop_constraint("follow_up_pkey", type_="primary")
        batch_op.drop_constraint("follow_up_one_letter_check", type_="check")
        batch_op.drop_constraint("follow_up_attendee_id_fkey", type_="foreignkey")
        batch_op.drop_constraint("follow_up_token_key", type_="unique")
        batch_op.drop_constraint("follow_up_attendee_id_key", type_="unique")
        batch_op.drop_constraint("follow_up_message_id_key", type_="unique")
        batch_op.drop_column("token")
        batch_op.drop_column("attendee_id")
        batch_op.alter_column("message_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_primary_key("follow_up_pkey", ["message_id"])
        batch_op.drop_column("id")
    with op.batch_alter_table("attendee") as batch_op:
        batch_op.drop_column("printed_at")
        batch_op.drop_column("may_follow_up")
