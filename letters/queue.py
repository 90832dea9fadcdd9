"""Celery, the Flask way: tasks run inside an app context; settings live in app.config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask

from letters import housekeeping

EMBEDDED_POLLING_SECONDS = 0.1


def broker_settings(broker_url: str, instance_dir: Path) -> dict[str, Any]:
    """Celery settings for the broker; "filesystem://" is the embedded, server-free default."""
    settings: dict[str, Any] = {"broker_url": broker_url}
    if broker_url.startswith("filesystem://"):
        # Kombu's file-system transport: queues are files under the instance folder, so one
        # machine needs no broker server. Producers and workers must share that folder.
        folder = instance_dir / "queue"
        for sub in ("messages", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        settings["broker_transport_options"] = {
            "data_folder_in": str(folder / "messages"),
            "data_folder_out": str(folder / "messages"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            # Kombu lists the folder once a second by default, which adds up to a second to
            # every hop of a letter (write, confirmation email, confirm, send). A listing of a
            # small folder is cheap, so look ten times a second.
            "polling_interval": EMBEDDED_POLLING_SECONDS,
        }
    return settings


def celery_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The app's Celery settings: broker, reliability, periodic jobs; config["CELERY"] wins."""
    settings: dict[str, Any] = {
        **broker_settings(config["BROKER_URL"], config["INSTANCE_DIR"]),
        # The database row is the truth and tasks only wake workers up, so results are unused.
        "task_ignore_result": True,
        # A task is acknowledged only when done: a worker killed mid-task leaves it queued.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "timezone": config["TIMEZONE"],
        "imports": ("tasks.email", "letters.printing.tasks", "tasks.housekeeping"),
        "task_default_queue": config["TASK_QUEUE"],
        # A print run holds its worker (and every core) for minutes: it goes to the printers
        # (`letters printer`), so the workers on the default queue are always free for email
        # and the periodic jobs, the print-run sweep included.
        "task_routes": {"letters.render_batch": {"queue": config["PRINT_QUEUE"]}},
        # Both entries run letters.housekeeping, as `letters housekeeping` does from cron.
        "beat_schedule": {
            "housekeeping-often": {
                "task": "letters.housekeeping",
                "schedule": config["SWEEP_INTERVAL_SECONDS"],
                "args": (list(housekeeping.OFTEN),),
            },
            "housekeeping-hourly": {
                "task": "letters.housekeeping",
                "schedule": 3600.0,
                "args": (list(housekeeping.HOURLY),),
            },
        },
    }
    settings.update(config.get("CELERY", {}))
    return settings


def celery_init_app(app: Flask) -> Celery:
    """Build the Celery app whose tasks run inside this Flask app's context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    app.config["CELERY"] = celery_settings(app.config)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app

    def fresh_connections(**_: object) -> None:
        # A forked pool process must not share the parent's pooled database connections:
        # two processes on one socket corrupt each other's results.
        from letters.extensions import db

        with app.app_context():
            db.engine.dispose(close=False)

    worker_process_init.connect(fresh_connections, weak=False)
    return celery_app
