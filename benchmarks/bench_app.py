"""The app the benchmarks run against: on a fresh SQLite file, or an emptied PostgreSQL."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from letters import create_app, migrations  # noqa: E402
from letters.extensions import db  # noqa: E402


@contextmanager
def bench_app(postgres_url: str = "") -> Iterator[tuple[Flask, str]]:
    """An app with its schema made, and its database URL; within its app context.

    PostgreSQL's database is emptied (drop_all, create_all); a SQLite file is made by the
    migrations, in a folder that goes afterwards.
    """
    with tempfile.TemporaryDirectory() as folder:
        url = postgres_url or f"sqlite:///{folder}/bench.sqlite3"
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": Path(folder), "SECRET_KEY": "b" * 40}
        )
        with app.app_context():
            if postgres_url:
                db.drop_all()
                db.create_all()
            else:
                migrations.upgrade(db.engine)
            yield app, url
