"""Print-run progress time.

When a running print run last finished a piece of work, so the sweep can tell a hung one.

Revision ID: d94f4674d126
Revises: f730c0bba9ec
Create Date: 2026-11-28 04:18:33.584859
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d94f4674d126"
down_revision: str | Sequence[str] | None = "f730c0bba9ec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite does it itself, and `letters db upgrade --sql` can print it.
    op.add_column("batch_job", sa.Column("progress_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("batch_job", schema=None) as batch_op:
        batch_op.drop_column("progress_at")
