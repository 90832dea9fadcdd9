"""Email tasks: thin adapters that take ids and call the message service (letters.messages)."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task

from letters.messages import notices, sending
from letters.messages.sweeper import sweep as find_work

log = logging.getLogger(__name__)


# A backlog (after an outage, or a busy evening) is woken in batches: one task claims many
# rows in one statement, which spares a task and two database round trips per letter.
SWEEP_BATCH = 25


@shared_task(name="letters.send_letter")
def send_letter(message_id: str) -> str:
    """Send one confirmed letter to its member (a wake-up: the row says what to do)."""
    return send_letters([message_id]).get(message_id, "")


@shared_task(name="letters.send_letters")
def send_letters(message_ids: list[str]) -> dict[str, str]:
    """Send the due letters among these; schedule retries and failure notices."""
    outcomes = sending.deliver_many([uuid.UUID(m) for m in message_ids])
    for message_id, outcome in outcomes.items():
        if outcome.retry_in is not None:
            send_letter.apply_async((str(message_id),), countdown=outcome.retry_in)
        if outcome.notify_failure:
            notify_failure.delay(str(message_id))
    # The receipts go from here rather than as tasks of their own: a task per email is most of
    # a worker's cost. Each is leased like any email, so one that fails here (or a worker that
    # dies here) is offered again by the sweep.
    for message_id, outcome in outcomes.items():
        if outcome.send_receipt:
            try:
                notices.send_receipt(message_id)
            except Exception:
                log.exception("receipt not sent", extra={"message_id": str(message_id)})
    return {str(message_id): outcome.state for message_id, outcome in outcomes.items()}


@shared_task(name="letters.send_confirmation")
def send_confirmation(message_id: str, reminder: bool = False) -> bool:
    """Email the supporter their confirmation link (or the one reminder)."""
    return notices.send_confirmation(uuid.UUID(message_id), reminder=reminder)


@shared_task(name="letters.notify_failure")
def notify_failure(message_id: str) -> bool:
    """Tell the supporter their letter could not be emailed."""
    return notices.notify_failure(uuid.UUID(message_id))


@shared_task(name="letters.send_receipt")
def send_receipt(message_id: str) -> bool:
    """Send the supporter their copy of the letter that went."""
    return notices.send_receipt(uuid.UUID(message_id))


@shared_task(name="letters.sweep")
def sweep() -> dict[str, int]:
    """Periodic: re-enqueue work nobody took, recover expired leases, remind, expire."""
    found = find_work()
    for start in range(0, len(found.to_send), SWEEP_BATCH):
        send_letters.delay([str(m) for m in found.to_send[start : start + SWEEP_BATCH]])
    for message_id in found.to_confirm:
        send_confirmation.delay(str(message_id))
    for message_id in found.to_remind:
        send_confirmation.delay(str(message_id), reminder=True)
    for message_id in found.to_receipt:
        send_receipt.delay(str(message_id))
    for message_id in found.to_notify:
        notify_failure.delay(str(message_id))
    return {
        "to_send": len(found.to_send),
        "to_confirm": len(found.to_confirm),
        "to_remind": len(found.to_remind),
        "to_receipt": len(found.to_receipt),
        "to_notify": len(found.to_notify),
        "emails_recovered_as_sent": found.emails_recovered_as_sent,
        "recovered_as_sent": found.recovered_as_sent,
        "expired": found.expired,
    }


def enqueue(task: object, message_id: uuid.UUID, **kwargs: object) -> bool:
    """Wake a worker after a commit; if the broker is down the sweep finds the row later."""
    try:
        task.delay(str(message_id), **kwargs)  # type: ignore[attr-defined]
    except Exception:
        log.exception("could not enqueue %s for %s; the sweep will pick it up", task, message_id)
        return False
    return True


@shared_task(name="letters.scrub")
def scrub() -> dict[str, int]:
    """Periodic: remove personal details from long-finished letters and long-past events.

    Also deletes print files kept too long. One task, so a deployment that runs the hourly
    job already had keeps every retention rule without a new schedule entry.
    """
    from dataclasses import asdict

    from letters.retention import scrub as remove_old_personal_data
    from letters.retention import scrub_events

    letters = remove_old_personal_data()
    return {"letters": letters, **asdict(scrub_events())}
