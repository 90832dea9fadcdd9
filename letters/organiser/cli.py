"""`letters organiser ...` (accounts) and `letters batch-pdf` (print an attendee CSV)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from letters import clock
from letters.campaigns import EXTENSION_KEY
from letters.domain.attendees import letter_for_attendee, print_order, read_attendees
from letters.domain.campaign import Campaign
from letters.domain.directory import load_directory
from letters.extensions import db
from letters.models import Organiser

organiser = AppGroup("organiser", help="Organiser accounts.")
PROBLEMS_PRINTED = 200
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


@click.command("batch-pdf")
@with_appcontext
@click.argument("attendees", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PDF to write; --zip, --labels and --envelopes write beside it.",
)
@click.option(
    "--campaign", "campaign_key", default=None, help="Campaign key (default: the site's)."
)
@click.option("--labels", is_flag=True, help="Also OUT-labels.pdf: Avery L7160 address labels.")
@click.option("--envelopes", is_flag=True, help="Also OUT-envelopes.pdf: DL envelopes.")
@click.option("--zip", "as_zip", is_flag=True, help="Also OUT.zip: one PDF per electorate.")
@click.option(
    "--address-per",
    type=click.Choice(["letter", "electorate"]),
    default="letter",
    show_default=True,
    help="One label or envelope for each letter, or for each electorate.",
)
@click.option(
    "--blank",
    default=0,
    show_default=True,
    type=click.IntRange(0, 50),
    help="Blank letters to handwrite, per electorate.",
)
@click.option(
    "--date",
    "letter_date",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The letters' date (default: today).",
)
@click.option("--heading", default="", help="A line for every cover sheet, e.g. the event.")
@click.option(
    "--partial",
    is_flag=True,
    help="Print the usable rows even when others have problems or need a division.",
)
@click.option("--workers", type=int, default=0, help="Processes to render with (0: every core).")
def batch_pdf(
    attendees: Path,
    output: Path,
    campaign_key: str | None,
    labels: bool,
    envelopes: bool,
    as_zip: bool,
    address_per: str,
    blank: int,
    letter_date: dt.datetime | None,
    heading: str,
    partial: bool,
    workers: int,
) -> None:
    """Print every letter in an attendee CSV, by state, electorate and surname."""
    from letters.printing.batch import render_batch
    from letters.printing.pages import start_render_server, usable_cores
    from letters.printing.plan import BatchOptions, Targets, electorates

    if (workers or usable_cores()) > 1:
        # The render processes' server starts in the background while the file is checked.
        start_render_server()
    campaigns: dict[str, Campaign] = current_app.extensions[EXTENSION_KEY]
    key = campaign_key or current_app.config["DEFAULT_CAMPAIGN"]
    campaign = campaigns.get(key)
    if campaign is None:
        raise click.ClickException(f"no campaign {key!r}; there are: {', '.join(campaigns)}")
    directory = load_directory(current_app.config["DATA_DIR"])
    if directory is None:
        raise click.ClickException("no member data yet: run `letters data refresh` first")

    report = read_attendees(attendees.read_bytes(), campaign, directory)
    for problem in report.problems[:PROBLEMS_PRINTED]:
        kind = "error" if problem.error else "warning"
        click.echo(f"{attendees.name}: {problem.where}: {kind}: {problem.message}", err=True)
    more = len(report.problems) + report.problems_not_kept - PROBLEMS_PRINTED
    if more > 0:
        click.echo(f"... and {more:,} more problems", err=True)
    for row in report.to_settle:
        click.echo(
            f"{attendees.name}: row {row.row}: {row.name} ({row.postcode}) needs a division: "
            f"add one of {', '.join(row.candidates) or '(none found)'} in the division column",
            err=True,
        )
    click.echo(report.summary(), err=True)
    if report.file_errors:
        raise click.ClickException("nothing printed: fix the file first")
    if (report.rejected_rows or report.to_settle) and not partial:
        raise click.ClickException(
            "nothing printed: fix the rows above, or use --partial to print the rest"
        )
    rows = sorted((r for r in report.rows if r.settled), key=lambda r: (*print_order(r), r.row))
    if not rows:
        raise click.ClickException("no letters to print")

    if letter_date is not None:
        day = letter_date.date()
    else:
        day = clock.today(current_app.config["TIMEZONE"])
    groups = electorates((letter_for_attendee(campaign, row, day) for row in rows), blank)
    stem = output.with_suffix("")
    targets = Targets(
        pdf=output,
        zip=stem.with_name(stem.name + ".zip") if as_zip else None,
        labels=stem.with_name(stem.name + "-labels.pdf") if labels else None,
        envelopes=stem.with_name(stem.name + "-envelopes.pdf") if envelopes else None,
    )
    with click.progressbar(length=len(rows), label="Printing letters", file=sys.stderr) as bar:
        shown = 0

        def progress(done: int, total: int, stage: str) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        result = render_batch(
            groups,
            targets,
            BatchOptions(
                heading=heading, address_per=address_per, title=f"Letters: {campaign.title}"
            ),
            workers=workers or None,
            progress=progress,
        )
    click.echo(
        f"{result.letters} letters to {result.electorates} electorates, {result.pages} pages:"
    )
    for path in result.files:
        click.echo(f"  {path}")


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
