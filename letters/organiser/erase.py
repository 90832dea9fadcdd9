"""Erasing one supporter's details on request: type the address, see what goes, confirm.

Every step is a POST with its CSRF token: the lookup changes nothing, but an address in a
URL would stay in browser histories and server logs. The work is letters/erasure.py's.
"""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from letters import erasure
from letters.messages.followups import ANSWER_LABELS
from letters.organiser import bp
from letters.organiser.forms import EraseConfirmForm, EraseLookupForm


def _confirm_page(address: str, *, changed: bool = False) -> str:
    found = erasure.find(address, current_user.id)
    # Filled from the list just made, never from the request: a changed list gets a new digest.
    form = EraseConfirmForm(formdata=None, data={"email": address, "digest": found.digest})
    return render_template(
        "organiser/erase_confirm.html",
        address=address,
        found=found,
        form=form,
        changed=changed,
        answers={answer.value: label for answer, label in ANSWER_LABELS.items()},
        event_days=current_app.config["KEEP_EVENT_DATA_DAYS"],
    )


@bp.get("/erase")
def erase_start() -> str:
    """The form: whose details to erase."""
    return render_template("organiser/erase.html", form=EraseLookupForm())


@bp.post("/erase")
def erase_lookup() -> str | tuple[str, int]:
    """What erasing the address would remove, and the one button that does it."""
    form = EraseLookupForm()
    if not form.validate_on_submit():
        return render_template("organiser/erase.html", form=form), 422
    return _confirm_page(form.email.data or "")


@bp.post("/erase/confirm")
def erase_confirm() -> Response | str | tuple[str, int]:
    """Erase what the confirm page listed; a list that changed meanwhile is shown again."""
    form = EraseConfirmForm()
    if not form.validate_on_submit():
        return render_template("organiser/erase.html", form=form), 422
    address = form.email.data or ""
    if erasure.find(address, current_user.id).digest != form.digest.data:
        # A letter was written, sent or answered since the list was shown: confirm the new one.
        return _confirm_page(address, changed=True), 409
    done = erasure.erase(address, current_user.id)
    # Counts only: a flash travels in the session cookie, and the address must not.
    flash(_summary(done), "info")
    if done.kept_in_flight:
        flash(
            f"{_n(done.kept_in_flight, 'letter was', 'letters were')} being emailed at that "
            "moment and kept as they were: erase the address again in a few minutes, once "
            "it has gone.",
            "error",
        )
    return redirect(url_for("organiser.erase_start"), code=303)


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _summary(done: erasure.Erased) -> str:
    parts = [_n(done.letters, "letter", "letters")]
    if done.cancelled:
        were = "it was" if done.cancelled == 1 else "they were"
        parts[0] += f" ({done.cancelled} stopped before {were} sent)"
    parts.append(_n(done.replies, "pasted reply", "pasted replies"))
    parts.append(_n(done.attendees, "attendee at your events", "attendees at your events"))
    if done.print_runs:
        parts.append(_n(done.print_runs, "print run's files", "print runs' files"))
    return "Erased: " + ", ".join(parts) + ". Counts, states and answers were kept."
