"""Migrations build the models' schema, on SQLite and on PostgreSQL, and adopt old databases.

test_upgrade_builds_the_models_schema is the guard against a model changed without a
migration: `letters db revision --autogenerate -m "..."` writes the missing one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from sqlalchemy import Engine, create_engine, inspect, make_url, text

from letters import migrations
from letters.extensions import db
from letters.settings import database_url
from tests.conftest import FIXTURES

LEGACY = FIXTURES / "legacy"  # what create_all made before migrations existed, per dialect
POSTGRES_URL = os.environ.get("LETTERS_TEST_DATABASE_URL") or os.environ.get(
    "LETTERS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
GUARD = (
    "the models differ from what the migrations build: write a migration with "
    '`letters db revision --autogenerate -m "what changed"`, read it, and commit it'
)


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards.

    The database tests share the server's `test` database and reset it with create_all; an
    alembic_version table left there, or tables dropped under them, would break them.
    """
    server = make_url(database_url(POSTGRES_URL))
    try:
        admin = psycopg.connect(
            server.set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.Error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_URL} is not reachable, and CI must test on it")
        pytest.skip(f"{POSTGRES_URL} is not reachable")
    name = f"letters_migrations_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a scratch PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'letters.sqlite3'}"
    else:
        with scratch_postgres() as scratch_url:
            yield scratch_url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return migrations.differences(connection)


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def make_legacy_database(engine: Engine) -> None:
    """Our tables as create_all made them before migrations, with an organiser in them."""
    script = (LEGACY / f"create_all.{engine.dialect.name}.sql").read_text()
    with engine.begin() as connection:
        for statement in script.split(";\n"):
            if statement.strip():
                connection.exec_driver_sql(statement)
        connection.execute(
            text(
                "INSERT INTO organiser (email, password_hash, session_token, created_at) "
                "VALUES ('old@example.org', 'hash', 'token', CURRENT_TIMESTAMP)"
            )
        )


# --- The guard, and going down and up ------------------------------------------------------


def test_upgrade_builds_the_models_schema(engine):
    outcome = migrations.upgrade(engine)
    assert (outcome.before, outcome.after) == (None, migrations.head())
    assert differences(engine) == [], GUARD


def test_the_models_match_the_migrations_on_a_scratch_database():
    # What `letters db check` runs: the same guard without any server.
    assert migrations.unmigrated_model_changes() == [], GUARD


def test_every_migration_goes_down_and_up_again(engine):
    migrations.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organiser (email, password_hash, session_token, created_at) "
                "VALUES ('a@example.org', 'hash', 'token', CURRENT_TIMESTAMP)"
            )
        )
    # One step at a time, so each downgrade runs against the schema its upgrade made.
    for _ in migrations.revisions():
        migrations.downgrade(engine, "-1")
    assert tables(engine) == set()
    for revision in migrations.revisions():
        assert migrations.upgrade(engine, revision).after == revision
    assert differences(engine) == [], GUARD
    assert migrations.upgrade(engine).changed is False


# --- Databases made by create_all before migrations existed -----------------------------


def test_adopts_a_database_made_by_create_all(engine):
    make_legacy_database(engine)

    outcome = migrations.upgrade(engine)

    assert outcome.adopted == migrations.revisions()[0]
    assert outcome.after == migrations.head()
    assert differences(engine) == [], GUARD
    with engine.connect() as connection:
        emails = connection.execute(text("SELECT email FROM organiser")).scalars().all()
    assert emails == ["old@example.org"]
    assert migrations.upgrade(engine).changed is False


def test_refuses_a_create_all_database_that_matches_no_revision(engine):
    make_legacy_database(engine)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE message DROP COLUMN scrubbed_at"))

    with pytest.raises(migrations.MigrationError) as refused:
        migrations.upgrade(engine)

    message = str(refused.value)
    assert "message: missing column scrubbed_at" in message
    assert f"letters db stamp {migrations.revisions()[0]}" in message
    # Nothing was changed: no history recorded, no table rebuilt, the data still there.
    assert not inspect(engine).has_table("alembic_version")
    assert "scrubbed_at" not in {c["name"] for c in inspect(engine).get_columns("message")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM organiser")).scalar() == 1


# --- Writing migrations ------------------------------------------------------------------


def test_autogenerate_writes_utc_datetime_as_its_column_type():
    with migrations.scratch() as connection:
        context = MigrationContext.configure(connection, opts=migrations.context_options())
        upgrade_ops = produce_migrations(context, db.metadata).upgrade_ops
        assert upgrade_ops is not None
        code = render_python_code(upgrade_ops, render_item=migrations.render_item)
    assert "sa.Column('created_at', sa.DateTime(timezone=True)" in code
    assert "UTCDateTime" not in code  # migrations must not import the models


def test_a_new_revision_follows_head_and_passes_ruff(tmp_path):
    # Into a copy of the migrations folder, beside a copy of the project's ruff settings.
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(Path(__file__).parents[1] / "pyproject.toml", tmp_path)
    real, head = migrations.MIGRATIONS_DIR, migrations.head()
    migrations.MIGRATIONS_DIR = copy
    migrations._script.cache_clear()
    try:
        [written] = migrations.new_revision("nothing changed", autogenerate=True)
    finally:
        migrations.MIGRATIONS_DIR = real
        migrations._script.cache_clear()

    assert written.parent == copy / "versions"
    source = written.read_text()
    assert f'down_revision: str | Sequence[str] | None = "{head}"' in source
    assert "    pass\n" in source.split("def upgrade() -> None:")[1].split("def downgrade")[0]
    for ruff in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *ruff, str(written)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
