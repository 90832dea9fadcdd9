"""GET /healthz: 200 when the database, its schema and the broker are fine, else 503 naming
the part that is not, and never a detail of anyone's letter."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from letters import create_app, migrations
from letters.extensions import db
from tests.conftest import TEST_DATABASE_URL
from tests.services import require_redis


@pytest.fixture
def migrated(make_app):
    """An app whose database is at the newest revision, as a deployment leaves it."""

    def build(**overrides):
        app = make_app(**overrides)
        if TEST_DATABASE_URL:
            # The shared PostgreSQL database is built by create_all (which the migrations
            # match, tests/test_migrations.py): record it as at the head, and forget it after.
            with app.app_context():
                migrations.stamp(db.engine, "head")
            built.append(app)
        return app

    built: list = []
    yield build
    for app in built:
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_healthy_on_the_embedded_defaults(migrated):
    response = migrated().test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok"},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_healthy_on_redis(migrated):
    app = migrated(BROKER_URL=require_redis())
    assert app.test_client().get("/healthz").status_code == 200


def test_a_broker_that_does_not_answer_is_named(migrated):
    app = migrated(BROKER_URL="redis://127.0.0.1:9/0")  # the discard port: nothing listens
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok" and checks["broker"].startswith("unreachable")
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_a_schema_behind_the_code_is_named(migrated):
    app = migrated()
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == (
        f"schema at older, the code needs {migrations.head()}"
    )


def test_a_database_that_cannot_be_reached_is_named(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "INSTANCE_DIR": tmp_path,
            "SQLALCHEMY_DATABASE_URI": "postgresql://postgres@127.0.0.1:9/none",  # nothing listens
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"].startswith("unreachable") and checks["broker"] == "ok"
