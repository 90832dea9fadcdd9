"""Follow-up tasks: a thin adapter that calls letters.messages.followups."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task


@shared_task(name="letters.send_followups")
def send_followups() -> dict[str, int]:
    """Periodic: ask supporters whether their MP replied, when each question is due."""
    from letters.messages.followups import send_due

    return asdict(send_due())
