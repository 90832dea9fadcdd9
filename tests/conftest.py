"""Shared fixtures: an app on a fresh database, its client and CLI runner, member data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine

from letters import clock, create_app, migrations
from letters.extensions import db
from letters.organiser import auth
from letters.refresh import Plausibility, refresh
from tests.fakes.sendgrid import WebhookSigner, running
from tests.services import create_worker_database, drop_worker_database, for_this_worker

TESTS_DIR = Path(__file__).resolve().parent
FIXTURES = TESTS_DIR / "fixtures"
# The full-scale public data (never copied into the project): ../shared/reference-data beside
# the checkout unless LETTERS_REFERENCE_DATA points elsewhere.
REFERENCE_DATA = Path(
    os.environ.get("LETTERS_REFERENCE_DATA") or TESTS_DIR.parents[1] / "shared" / "reference-data"
).resolve()
OPENAUSTRALIA_FIXTURE = FIXTURES / "openaustralia"

# Set to a PostgreSQL URL to run the database tests against a real server
# (.ci/test does: postgresql://postgres@127.0.0.1:5432/test).
# Under pytest-xdist each worker resets a database of its own (tests/services.py).
TEST_DATABASE_URL = for_this_worker(os.environ.get("LETTERS_TEST_DATABASE_URL", ""))


# CI's verdict must depend on the code alone: the "ci" profile (the default) draws the same
# examples every run and keeps no example database. HYPOTHESIS_PROFILE=explore runs many more,
# randomly, to look for new failing inputs (docs/TESTING.md).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, max_examples=500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The fixture is a made-up parliament of 11 members, far below the real House's bounds.
FIXTURE_PLAUSIBILITY = Plausibility(min_members=5, max_members=20, min_postcodes=5)


def load_fixture_members(data_dir: Path) -> None:
    """Refresh member data from the hand-made fixture files into data_dir."""
    refresh(str(OPENAUSTRALIA_FIXTURE), data_dir, plausibility=FIXTURE_PLAUSIBILITY)


def reference_data() -> Path:
    """The full-scale public data beside the repository, or a visible skip."""
    if not (REFERENCE_DATA / "openaustralia-parser" / "representatives.csv").exists():
        pytest.skip(f"reference data not found at {REFERENCE_DATA}")
    return REFERENCE_DATA


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file the migrations brought to head, once per test process: each test gets a
    copy, which costs ~1 ms where running the migrations costs ~50."""
    path = tmp_path_factory.mktemp("migrated") / "letters.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrations.upgrade_embedded(engine, True)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def make_app(tmp_path: Path, migrated_sqlite: Path) -> Iterator:
    """Build apps on a fresh database under tmp_path (PostgreSQL when configured).

    On SQLite the new file is a copy of one the migrations made (migrated_sqlite), as
    `letters serve` makes it for everyone.
    PostgreSQL's `test` database is shared by every test, so it is reset with drop_all and
    create_all instead; tests/test_migrations.py runs the migrations on PostgreSQL, in scratch
    databases, and checks that they build exactly what create_all builds.
    """
    made: list[Flask] = []

    def factory(**overrides: object) -> Flask:
        config: dict[str, object] = {
            "TESTING": True,
            "INSTANCE_DIR": tmp_path / "instance",
            "DATA_DIR": tmp_path / "data",
            # Derived from the instance folder only when read from the environment.
            "OUTBOX_DIR": tmp_path / "instance" / "outbox",
            "SECRET_KEY": "test-secret",
            # Test clients submit faster than a person: tests of the fill time set their own.
            "MIN_FILL_SECONDS": 0,
            # Many submissions from one test address; test_security sets a low limit itself.
            "SUPPORTER_POST_LIMIT": "100000 per hour",
            "PREVIEW_LIMIT": "100000 per hour",
            "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL
            or f"sqlite:///{tmp_path / 'letters.sqlite3'}",
        }
        fresh_sqlite = not TEST_DATABASE_URL and "SQLALCHEMY_DATABASE_URI" not in overrides
        config.update(overrides)
        if fresh_sqlite and not (tmp_path / "letters.sqlite3").exists():
            # What `letters serve` would make on its first start (migrations to head).
            shutil.copyfile(migrated_sqlite, tmp_path / "letters.sqlite3")
        if TEST_DATABASE_URL:
            from letters.settings import database_url

            config["SQLALCHEMY_DATABASE_URI"] = database_url(str(config["SQLALCHEMY_DATABASE_URI"]))
        app = create_app(config)
        with app.app_context():
            if TEST_DATABASE_URL:
                db.drop_all()
                db.create_all()
            elif not fresh_sqlite:
                migrations.upgrade_embedded(db.engine, app.config["DATABASE_AUTO_UPGRADE"])
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            if TEST_DATABASE_URL:
                db.drop_all()
            db.engine.dispose()


@pytest.fixture
def app(make_app) -> Flask:
    """An app with no member data loaded (the supporter types their MP)."""
    return make_app()


@pytest.fixture
def app_with_data(make_app) -> Flask:
    """An app whose member data was refreshed from the small fixture files."""
    app = make_app()
    load_fixture_members(app.config["DATA_DIR"])
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def pytest_sessionstart(session: pytest.Session) -> None:
    create_worker_database()


@pytest.fixture(autouse=True)
def _forget_built_statements() -> None:
    """Under mutmut, a statement the code builds once and caches is built again for each test.

    mutmut first runs every test once ("stats") to learn which tests call each function, then
    runs only those tests against that function's mutants. A cached builder is called by the
    first test alone, so without this its mutants would be tried against that one test. And
    each mutant's run is forked from a process that already built the unmutated statement."""
    if not os.environ.get("MUTANT_UNDER_TEST"):
        return
    from letters.messages import confirmation, own_words
    from letters.webhooks import signature

    for cached in (confirmation._confirming, own_words._overlap_query, signature.public_key):
        cached.cache_clear()


def pytest_sessionfinish(session: pytest.Session) -> None:
    drop_worker_database()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that builds an app (and so a database) as a database test, and put the
    tests that start processes first.

    Those take seconds each, where most tests take a fraction of one. Begun first, they are
    spread over the test processes while the short ones fill the gaps; begun last, as the file
    order would have them, one process ends the run alone on a long test."""
    for item in items:
        if "make_app" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
    items.sort(key=lambda item: item.get_closest_marker("processes") is None)


# LETTERS_CLOCK_OFFSET_SECONDS moves the whole run to another date, the processes it starts
# included (they inherit the environment): how the tests that start processes, which libfaketime
# cannot move, show that they do not depend on today's date (docs/TESTING.md).
RUN_CLOCK_OFFSET = float(os.environ.get("LETTERS_CLOCK_OFFSET_SECONDS") or 0)


@pytest.fixture(autouse=True)
def _run_clock() -> Iterator[None]:
    """Every test starts and ends on the run's clock, whatever the last one set."""
    clock.unfreeze()
    clock.set_offset(RUN_CLOCK_OFFSET)
    yield
    clock.unfreeze()
    clock.set_offset(RUN_CLOCK_OFFSET)


# scrypt's work grows with N: the product's N=2**15 makes every hash and every check slow on
# purpose, and the tests make and log in organisers hundreds of times. N=2**8 (about the least
# OpenSSL accepts at r=8) runs the same code at 1/128 of the work. test_organiser_auth.py
# checks the real cost on its own.
FULL_PASSWORD_HASH_METHOD = auth.PASSWORD_HASH_METHOD


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "PASSWORD_HASH_METHOD", "scrypt:256:8:1")


@pytest.fixture
def fake():
    """A SendGrid stand-in, a real HTTP server the real client is pointed at (tests/fakes)."""
    with running() as server:
        yield server


@pytest.fixture
def signer() -> WebhookSigner:
    """Signs webhook bodies as SendGrid does; its public key goes in the app's settings."""
    return WebhookSigner()
