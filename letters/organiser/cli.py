"""`letters organiser ...`: organiser accounts, and the print-run command the render task runs."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup
from sqlalchemy import select

from letters.extensions import db
from letters.models import Organiser

organiser = AppGroup("organiser", help="Organiser accounts.")
RENDER_NICENESS = 10  # added to a print run's render: below the web and email workers


def _new_password() -> str:
    from letters.organiser.auth import MIN_PASSWORD_LENGTH

    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"use at least {MIN_PASSWORD_LENGTH} characters")
    return password


@organiser.command("create")
@click.argument("email")
def organiser_create(email: str) -> None:
    """Create an organiser account (the password is prompted for, and stored hashed)."""
    from letters.cli import upgrade_embedded_database
    from letters.organiser.auth import create_organiser, normalise_email

    upgrade_embedded_database()  # a fresh machine's first command may be this one
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise click.ClickException(f"{email!r} is not an email address")
    if db.session.scalar(select(Organiser).where(Organiser.email == email)):
        raise click.ClickException(f"there is already an organiser {email}")
    create_organiser(email, _new_password())
    click.echo(f"Created organiser {email}. They log in at /organiser/login.")


@organiser.command("password")
@click.argument("email")
def organiser_password(email: str) -> None:
    """Set a new password for an organiser; it also logs them out everywhere."""
    from letters.cli import upgrade_embedded_database
    from letters.organiser.auth import normalise_email, set_password

    upgrade_embedded_database()
    found = db.session.scalar(select(Organiser).where(Organiser.email == normalise_email(email)))
    if found is None:
        raise click.ClickException(f"no organiser {email}")
    set_password(found, _new_password())
    click.echo(f"New password set for {found.email}; their sessions have ended.")


@organiser.command("render-job", hidden=True)
@click.argument("job_id", type=click.UUID)
@click.option("--attempt", type=int, default=None, help="The attempt the caller claimed.")
def organiser_render_job(job_id: object, attempt: int | None) -> None:
    """Render one print run (the Celery task runs this in a process of its own)."""
    from letters.printing.runs import run_batch_job

    # A print run takes the cores nothing else wants: on a machine that also serves pages and
    # sends email (`letters serve`), those stay quick. Its pool processes inherit this.
    os.nice(RENDER_NICENESS)
    click.echo(run_batch_job(job_id, attempt=attempt))  # type: ignore[arg-type]
