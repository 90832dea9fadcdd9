"""Alembic's environment: run by every `letters db` command (see letters/migrations/__init__.py).

There is no alembic.ini: letters.migrations.config() builds the configuration in code and hands
over an open connection, so migrations always run on the app's own database, inside the
transaction (and lock) that the caller holds.
"""

from __future__ import annotations

from alembic import context

from letters.migrations import context_options


def run_offline() -> None:
    """`letters db upgrade --sql`: print the SQL for a person to review or run."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        **context_options(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `letters db`, which passes the connection")
    context.configure(connection=connection, **context_options())
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
