"""gunicorn's settings for the web service (`gunicorn --config python:letters.web_server`).

A supporter's request is short and mostly waits on the database, so each worker process runs
a few threads (gthread): more requests in flight per megabyte than one process per request,
while a slow client holds one thread, not a whole process. Size it with the environment:
  LETTERS_WEB_WORKERS  processes; default 2 per core + 1, gunicorn's own advice
  LETTERS_WEB_THREADS  threads per process (default 4); 1 with the sync class
  LETTERS_WEB_WORKER_CLASS  gthread (default) or sync
"""

from __future__ import annotations

import os

workers = int(os.environ.get("LETTERS_WEB_WORKERS") or 2 * (os.cpu_count() or 1) + 1)
worker_class = os.environ.get("LETTERS_WEB_WORKER_CLASS", "gthread")
threads = int(os.environ.get("LETTERS_WEB_THREADS", "4"))
# A request that takes this long is stuck (a PDF renders in well under a second): the worker
# is restarted rather than left holding its threads.
timeout = 30
# On SIGTERM, requests in flight get this long to finish before the worker exits.
graceful_timeout = 30
# Behind a proxy, a kept-alive connection between it and gunicorn saves a handshake a request.
keepalive = 5


def post_worker_init(worker: object) -> None:
    """Load WeasyPrint and warm the letter renderer in each web process, before its first
    request: building the app does not import it (the email workers and the CLI never need
    it), and a supporter's first PDF should not wait for fonts to load."""
    from letters.printing.letter import prepare_process

    prepare_process()
