"""How the app's connections are set up: SQLite's journal, for the embedded default."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event

from letters.extensions import db

BUSY_TIMEOUT_MS = 60_000


def init_app(app: Flask) -> None:
    """Set SQLite's pragmas on every new connection (PostgreSQL needs nothing here)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    # Write-ahead logging: the web and the embedded workers read while another process
    # writes, and a commit appends to the log instead of rewriting the file and its journal.
    # With it, synchronous=NORMAL syncs at checkpoints rather than at every commit (a commit
    # cost ~20 ms of fsync before, most of a letter's web time): a killed process still loses
    # nothing committed; only a power cut or OS crash can roll back the last commits, which
    # is why production runs on PostgreSQL (docs/RELIABILITY.md).
    cursor = connection.cursor()
    # Another process's write (a migration at start-up, a worker's commit) can hold the lock
    # for seconds on a busy machine: wait for it, as PostgreSQL would, rather than fail
    # after pysqlite's default 5 s. First, since switching the journal waits for it too.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
