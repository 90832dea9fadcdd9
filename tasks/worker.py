"""The Celery worker's entry point: `celery -A tasks.worker worker` (or `letters worker`)."""

from letters import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
