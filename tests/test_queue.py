"""The embedded queue (Kombu's file-system transport) as the app configures it."""

from __future__ import annotations

from letters.queue import EMBEDDED_POLLING_SECONDS


def test_the_embedded_queue_looks_for_tasks_ten_times_a_second(app):
    # Kombu's default is once a second, a wait added to every hop of an emailed letter. The
    # option reaches the channel only under the name Kombu reads, which this checks.
    celery_app = app.extensions["celery"]
    with celery_app.connection_for_write() as connection:
        assert connection.transport_cls == "filesystem"
        assert connection.transport.polling_interval == EMBEDDED_POLLING_SECONDS == 0.1
