"""Schema migrations: Alembic, configured in code, with its scripts in this folder.

`letters db upgrade` brings a database to the newest revision: a deployment step before new
code starts (docker-compose.yml's migrate service). On the embedded default (SQLite) `letters
serve` and the commands that need tables run it themselves, so a fresh machine needs no setup;
nothing else does, so web and worker processes never race to change the schema.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# Any fixed number: the PostgreSQL advisory lock that lets one process at a time migrate.
_POSTGRES_LOCK_KEY = 0x6C657474657273  # "letters"


class MigrationError(Exception):
    """The schema cannot be brought up to date without a person deciding how."""


@dataclass(frozen=True)
class Outcome:
    """What an upgrade or downgrade found and did."""

    before: str | None  # the revision the database was at; None when it had none
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def describe(self) -> str:
        if not self.changed:
            return f"database is up to date (revision {self.after})"
        if self.after is None:
            return f"database downgraded from {self.before} to empty (no tables)"
        order = revisions()
        if self.before is None or order.index(self.before) < order.index(self.after):
            return f"database upgraded from {self.before or 'empty'} to {self.after}"
        return f"database downgraded from {self.before} to {self.after}"


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write UTCDateTime as the column type it creates, so migrations never import the models.

    A migration must keep working however the models change later; the database only ever
    sees UTCDateTime's impl, and its UTC handling lives in Python, not in the schema.
    """
    from letters.models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def context_options() -> dict[str, Any]:
    """How env.py configures Alembic, and how this module compares models with a database."""
    from letters import models  # noqa: F401 - defines the tables on db.metadata
    from letters.extensions import db

    return {
        "target_metadata": db.metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead (and on
        # PostgreSQL the same batch operations are plain ALTERs).
        "render_as_batch": True,
        "render_item": render_item,
        "compare_type": True,
    }


def config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """Alembic's configuration, in code; the commands run on `connection`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    # Date first, so the versions folder lists in the order the revisions were written.
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    if importlib.util.find_spec("ruff") is not None:
        # New revision files come out as `ruff check` and `ruff format --check` want them.
        cfg.set_section_option("post_write_hooks", "hooks", "ruff_format, ruff_fix")
        for name, options in (
            ("ruff_format", "format --quiet REVISION_SCRIPT_FILENAME"),
            ("ruff_fix", "check --fix --quiet REVISION_SCRIPT_FILENAME"),
        ):
            cfg.set_section_option("post_write_hooks", f"{name}.type", "exec")
            cfg.set_section_option("post_write_hooks", f"{name}.executable", sys.executable)
            cfg.set_section_option("post_write_hooks", f"{name}.options", f"-m ruff {options}")
    return cfg


@functools.cache
def _script() -> ScriptDirectory:
    # Read once per process: the scripts ship with the code.
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision (there is one: the history has no branches)."""
    revision = _script().get_current_head()
    assert revision is not None, "no migration scripts"
    return revision


def revisions() -> list[str]:
    """Every revision, oldest first."""
    return [script.revision for script in reversed(list(_script().walk_revisions()))]


def current(connection: Connection) -> str | None:
    """The revision the database is at (None: no migration history)."""
    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        raise MigrationError(f"the database is at several revisions at once: {heads}")
    return heads[0] if heads else None


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that no other migrating process can enter."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # pysqlite leaves DDL outside any transaction unless one is opened by hand, and an
            # immediate one also takes the write lock: a half-done upgrade rolls back, and a
            # second process starting at the same moment waits, then finds nothing to do.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            # PostgreSQL's DDL is transactional already; the lock makes concurrent upgrades
            # (several containers starting at once) take turns.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
            )
        yield connection
        connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> Outcome:
    """Bring the database to `revision`."""
    if revision == "head":
        # The usual start-up case costs one query and no lock.
        with engine.connect() as connection:
            at = current(connection)
            if at == head():
                return Outcome(before=at, after=at)
    with _exclusive(engine) as connection:
        before = current(connection)
        try:
            command.upgrade(config(connection), revision)
        except Exception as exc:
            raise MigrationError(_explain(exc, before)) from exc
        return Outcome(before=before, after=current(connection))


def downgrade(engine: Engine, revision: str) -> Outcome:
    """Go back to `revision` ("base" empties the database of our tables)."""
    with _exclusive(engine) as connection:
        before = current(connection)
        command.downgrade(config(connection), revision)
        return Outcome(before=before, after=current(connection))


def stamp(engine: Engine, revision: str) -> None:
    """Record that the database is at `revision` without running anything."""
    with _exclusive(engine) as connection:
        command.stamp(config(connection), revision, purge=True)


def upgrade_sql(url: str, revision: str = "head") -> None:
    """Print the SQL of an upgrade from an empty database instead of running it."""
    command.upgrade(config(url=url), revision, sql=True)


def _explain(exc: Exception, before: str | None) -> str:
    if before is not None and before not in revisions():
        return (
            f"the database is at revision {before}, which this version of letters does not "
            "know: it was upgraded by a newer version. Run that version, or restore a backup."
        )
    return f"upgrade failed, nothing was changed: {exc}"


# --- Models against migrations -----------------------------------------------------------


@contextmanager
def scratch() -> Iterator[Connection]:
    """An empty in-memory SQLite database, for comparing and generating migrations."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def differences(connection: Connection) -> list[object]:
    """What Alembic's autogenerate would change to make the database match the models."""
    options = context_options()
    context = MigrationContext.configure(connection, opts=options)
    return list(compare_metadata(context, options["target_metadata"]))


def check() -> None:
    """Alembic's own check: AutogenerateDiffsDetected if a model change has no migration yet.

    Run on a scratch SQLite database at head, so it depends on nobody's local database.
    """
    with scratch() as connection:
        command.upgrade(config(connection), "head")
        command.check(config(connection))


def upgrade_embedded(engine: Engine, enabled: bool | None) -> Outcome | None:
    """The embedded default's schema step (LETTERS_DATABASE_AUTO_UPGRADE; unset: SQLite only).

    `letters serve` and the commands that need tables call it; None when it is not theirs to do.
    """
    if enabled is None:
        enabled = engine.dialect.name == "sqlite"
    return upgrade(engine) if enabled else None


def new_revision(message: str, *, autogenerate: bool) -> list[Path]:
    """Write a revision file into versions/; autogenerate diffs the models against head.

    The comparison runs on a scratch SQLite database at head, so it depends on nobody's local
    database; the result is a draft to read and correct before committing.
    """
    with scratch() as connection:
        command.upgrade(config(connection), "head")
        written = command.revision(config(connection), message=message, autogenerate=autogenerate)
    _script.cache_clear()
    scripts = written if isinstance(written, list) else [written]
    return [Path(script.path) for script in scripts if script is not None]
