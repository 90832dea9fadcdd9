"""`letters batch-pdf`: an attendee CSV printed from the command line, without the web app.

It reads its few settings (the data and campaign folders, the default campaign, the time zone)
straight from the environment rather than building the Flask app: the app is about 45 MB this
process would hold through the whole print run for nothing, since printing needs neither the
database nor the web.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from letters import clock, settings
from letters.domain.attendees import letter_for_attendee, print_order, read_attendees
from letters.domain.campaign import Campaign, CampaignError, load_campaigns
from letters.domain.directory import load_directory

PROBLEMS_PRINTED = 200  # the rest are counted, not listed: a terminal full is enough to act on


@click.command("batch-pdf")
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
    config = _settings()
    campaign = _campaign(config, campaign_key)
    directory = load_directory(Path(str(config["DATA_DIR"])))
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

    day = letter_date.date() if letter_date is not None else clock.today(config["TIMEZONE"])
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


def _settings() -> Mapping[str, object]:
    """The settings, from the environment; a clear error for one that cannot work."""
    try:
        config = settings.from_environment()
    except settings.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        ZoneInfo(str(config["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        zone = config["TIMEZONE"]
        raise click.ClickException(f"LETTERS_TIMEZONE: no time zone {zone!r}") from exc
    return config


def _campaign(config: Mapping[str, object], key: str | None) -> Campaign:
    """The campaign to print, by key or the site's default; a clear error for a bad one."""
    try:
        campaigns = load_campaigns(Path(str(config["CAMPAIGNS_DIR"])))
    except CampaignError as exc:
        problems = "; ".join(exc.problems)
        raise click.ClickException(f"{exc.path}: {problems}") from exc
    wanted = key or str(config["DEFAULT_CAMPAIGN"])
    campaign = campaigns.get(wanted)
    if campaign is None:
        known = ", ".join(campaigns) or f"none in {config['CAMPAIGNS_DIR']} (LETTERS_CAMPAIGNS_DIR)"
        raise click.ClickException(f"no campaign {wanted!r}; there are: {known}")
    return campaign
