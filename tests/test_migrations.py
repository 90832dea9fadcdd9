"""Migrations build the models' schema, on SQLite and on PostgreSQL, and adopt old databases.

test_upgrade_builds_the_models_schema is the guard against a model changed without a
migration: `letters db revision --autogenerate -m "..."` writes the missing one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, inspect, text

from letters import create_app, migrations
from letters.cli import main
from letters.extensions import db
from letters.settings import ConfigError, from_environment
from tests.conftest import FIXTURES
from tests.services import scratch_postgres

LETTERS = Path(sys.executable).with_name("letters")
LEGACY = FIXTURES / "legacy"  # what create_all made before migrations existed, per dialect
GUARD = (
    "the models differ from what the migrations build: write a migration with "
    '`letters db revision --autogenerate -m "what changed"`, read it, and commit it'
)


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


@pytest.mark.processes
def test_concurrent_upgrades_take_turns(url, tmp_path):
    # Several containers (or gunicorn workers on SQLite) may start at once: one migrates,
    # the others wait for its lock and then find nothing to do.
    env = {
        **os.environ,
        "LETTERS_INSTANCE_DIR": str(tmp_path / "instance"),
        "LETTERS_DATABASE_URL": url,
    }
    runs = [
        subprocess.Popen(
            [str(LETTERS), "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted("up to date" in output for output in outputs) == [False, True], outputs
    engine = create_engine(url)
    try:
        assert differences(engine) == []
    finally:
        engine.dispose()


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


# --- The app's start and the `letters db` commands ---------------------------------------


def _app_config(tmp_path: Path, **overrides: object) -> dict[str, object]:
    return {
        "TESTING": True,
        "INSTANCE_DIR": tmp_path / "instance",
        "DATA_DIR": tmp_path / "data",
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'letters.sqlite3'}",
        **overrides,
    }


@contextmanager
def app_on(config: dict[str, object]) -> Iterator:
    app = create_app(config)
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


def test_the_app_upgrades_sqlite_at_start_and_adopts_an_old_file(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'letters.sqlite3'}")
    make_legacy_database(engine)
    engine.dispose()

    with app_on(_app_config(tmp_path)) as app:
        outcome = app.extensions[migrations.EXTENSION_KEY]
        assert outcome.adopted == migrations.revisions()[0]
        with app.app_context(), db.engine.connect() as connection:
            assert migrations.current(connection) == migrations.head()


def test_automatic_upgrade_can_be_turned_off(tmp_path):
    with app_on(_app_config(tmp_path, DATABASE_AUTO_UPGRADE=False)) as app:
        assert migrations.EXTENSION_KEY not in app.extensions
        with app.app_context():
            assert tables(db.engine) == set()
    settings = from_environment({"LETTERS_DATABASE_AUTO_UPGRADE": "off"})
    assert settings["DATABASE_AUTO_UPGRADE"] is False
    assert from_environment({})["DATABASE_AUTO_UPGRADE"] is None  # on for SQLite only
    with pytest.raises(ConfigError, match="LETTERS_DATABASE_AUTO_UPGRADE"):
        from_environment({"LETTERS_DATABASE_AUTO_UPGRADE": "sometimes"})


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """The embedded defaults' instance folder: the database is letters.sqlite3 in it."""
    return tmp_path / "instance"


@pytest.fixture
def letters_cli(instance: Path, monkeypatch) -> Callable[..., Result]:
    """`letters ...` in this process (quicker than a new one), on the embedded defaults."""
    # FlaskGroup marks the process as run from its CLI; restored when the test ends.
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    env = {"LETTERS_INSTANCE_DIR": str(instance), "LETTERS_DATABASE_URL": None}

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    return run


def old_sqlite_file(instance: Path, *, drop_column: bool = False) -> Engine:
    instance.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{instance / 'letters.sqlite3'}")
    make_legacy_database(engine)
    if drop_column:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE message DROP COLUMN scrubbed_at"))
    return engine


def test_letters_db_upgrade_on_a_fresh_machine(instance):
    # The real console script, as a deployment step runs it.
    env = {**os.environ, "LETTERS_INSTANCE_DIR": str(instance)}
    env.pop("LETTERS_DATABASE_URL", None)

    def letters(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(LETTERS), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    upgraded = letters("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from empty to {migrations.head()}" in upgraded.stdout
    assert (instance / "letters.sqlite3").exists()
    current = letters("db", "current")
    assert current.stdout.strip() == f"{migrations.head()} (newest)", current.stderr


def test_letters_db_current_and_upgrade_on_an_old_database(letters_cli, instance):
    assert "empty database: `letters db upgrade` creates" in letters_cli("db", "current").output
    old_sqlite_file(instance).dispose()
    assert "no migration history" in letters_cli("db", "current").output

    upgraded = letters_cli("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    first = migrations.revisions()[0]
    assert f"adopted the existing tables at revision {first}" in upgraded.output
    assert letters_cli("db", "current").output.strip() == f"{migrations.head()} (newest)"


def test_an_old_database_that_matches_nothing_stops_the_app_with_what_to_do(letters_cli, instance):
    engine = old_sqlite_file(instance, drop_column=True)

    # Any command starts the app, which upgrades SQLite: it refuses, saying why.
    for args in (("db", "upgrade"), ("lookup", "2600")):
        refused = letters_cli(*args)
        assert refused.exit_code == 1, refused.output
        assert "message: missing column scrubbed_at" in refused.output
        assert isinstance(refused.exception, SystemExit)  # click's error, not a traceback

    # What the message says to do: fix the table by hand, stamp, upgrade.
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE message ADD COLUMN scrubbed_at DATETIME"))
    engine.dispose()
    first = migrations.revisions()[0]
    assert letters_cli("db", "stamp", first).exit_code == 0
    upgraded = letters_cli("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output


def test_letters_db_check_and_upgrade_sql(letters_cli, instance):
    checked = letters_cli("db", "check")
    assert checked.exit_code == 0 and "models match the migrations" in checked.output
    printed = letters_cli("db", "upgrade", "--sql")
    assert printed.exit_code == 0, printed.output
    assert "CREATE TABLE message" in printed.output
    assert not (instance / "letters.sqlite3").exists()  # printed, not run


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
