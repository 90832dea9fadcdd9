"""How the app's processes log: plain text by default, or one JSON object a line
(LETTERS_LOG_FORMAT=json) for a log collector.

Log lines name what they are about by id (`extra={"message_id": ...}` or `print_run_id`),
never by a supporter's name, address or words: logs are kept longer than personal data is
(docs/SECURITY.md), so nothing personal may reach them."""

from __future__ import annotations

import logging
import sys

from celery.signals import after_setup_logger, after_setup_task_logger
from flask import Flask
from pythonjsonlogger.json import JsonFormatter


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


class JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler this module adds, writing JSON lines to stderr (once per process)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(json_formatter())


def _celery_logger_ready(logger: logging.Logger, **_: object) -> None:
    # In a worker, Celery has just given the logger its own handlers: make them write JSON.
    for handler in logger.handlers:
        handler.setFormatter(json_formatter())


def init_app(app: Flask) -> None:
    if app.config["LOG_FORMAT"] != "json":
        return
    root = logging.getLogger()
    if not any(isinstance(handler, JsonHandler) for handler in root.handlers):
        root.addHandler(JsonHandler())
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    # Flask's own handler would write the same line again, as text.
    app.logger.handlers.clear()
    app.logger.propagate = True
    after_setup_logger.connect(_celery_logger_ready, weak=False)
    after_setup_task_logger.connect(_celery_logger_ready, weak=False)
