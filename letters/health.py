"""GET /healthz: can this process do its work? For load balancers and orchestrators.

Each part is checked for real and named in the answer, so an operator sees which one failed;
the answer holds no personal data and no connection details (they can carry passwords)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from letters import migrations
from letters.extensions import db, limiter

bp = Blueprint("health", __name__)

# A broker that does not answer within this long counts as down: the check must stay fast
# enough for a load balancer's probe.
BROKER_TIMEOUT_SECONDS = 3.0


def _database() -> str:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        revision = migrations.current(connection)
    if revision != migrations.head():
        return f"schema at {revision or 'no revision'}, the code needs {migrations.head()}"
    return "ok"


def _broker() -> str:
    celery_app = current_app.extensions["celery"]
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    return "ok"


CHECKS: dict[str, Callable[[], str]] = {"database": _database, "broker": _broker}


@bp.get("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    parts: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            parts[name] = check()
        except Exception as exc:  # any failure is this part's answer, not a 500
            current_app.logger.warning("health check %s failed: %s", name, type(exc).__name__)
            parts[name] = f"unreachable ({type(exc).__name__})"
    healthy = all(state == "ok" for state in parts.values())
    response = jsonify(status="ok" if healthy else "failing", checks=parts)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
