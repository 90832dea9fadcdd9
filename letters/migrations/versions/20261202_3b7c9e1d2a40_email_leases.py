"""Email leases: each email about a letter is claimed until a time, and marked sent only after.

Revision ID: 3b7c9e1d2a40
Revises: 65fba1ea927c
Create Date: 2026-12-02 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b7c9e1d2a40"
down_revision: str | Sequence[str] | None = "65fba1ea927c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "confirmation_claimed_until",
    "reminder_claimed_until",
    "receipt_claimed_until",
    "failure_notice_claimed_until",
)


def upgrade() -> None:
    # Nullable columns with no default: a plain ADD COLUMN on SQLite and PostgreSQL alike.
    for name in COLUMNS:
        op.add_column("message", sa.Column(name, sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
