"""The machine's real servers for tests: reach them, or skip (and fail under CI) saying why."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from letters.settings import database_url


def for_this_worker(url: str) -> str:
    """The database URL this test process uses: under pytest-xdist each worker has its own
    database on the server (test_gw0, test_gw1...), since tests reset theirs with drop_all."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


SHARED_POSTGRES_URL = os.environ.get("LETTERS_TEST_DATABASE_URL") or os.environ.get(
    "LETTERS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
POSTGRES_URL = for_this_worker(SHARED_POSTGRES_URL)
REDIS_URL = os.environ.get("LETTERS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unreachable(what: str) -> None:
    """Skip the test, or fail it under CI, which must test on the real servers."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is not reachable, and CI must test on it")
    pytest.skip(f"{what} is not reachable")


def require_redis(url: str = REDIS_URL) -> str:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        unreachable(url)
    return url


def _admin() -> psycopg.Connection | None:
    """An autocommit connection to the shared test database, or None if it is unreachable."""
    server = make_url(database_url(SHARED_POSTGRES_URL)).set(drivername="postgresql")
    try:
        return psycopg.connect(
            server.render_as_string(hide_password=False), autocommit=True, connect_timeout=3
        )
    except psycopg.Error:
        return None


def create_worker_database() -> None:
    """Make this xdist worker's database afresh (one a crashed run left is dropped first)."""
    if POSTGRES_URL == SHARED_POSTGRES_URL:
        return
    admin = _admin()
    if admin is None:
        return  # the tests that need PostgreSQL skip, or fail under CI, saying why
    name = sql.Identifier(make_url(POSTGRES_URL).database)
    with admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_worker_database() -> None:
    if POSTGRES_URL == SHARED_POSTGRES_URL:
        return
    admin = _admin()
    if admin is None:
        return
    name = sql.Identifier(make_url(POSTGRES_URL).database)
    with admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@contextmanager
def scratch_postgres(prefix: str = "migrations") -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards.

    The database tests share the server's `test` database and reset it with create_all; an
    alembic_version table left there, or tables dropped under them, would break them.
    """
    server = make_url(database_url(SHARED_POSTGRES_URL))
    admin = _admin()
    if admin is None:
        unreachable(SHARED_POSTGRES_URL)
    name = f"letters_{prefix}_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
