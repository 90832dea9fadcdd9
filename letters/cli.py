"""The `letters` console script."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from letters.domain.campaign import CampaignError, load_campaign
from letters.printing.cli import batch_pdf
from letters.refresh import DEFAULT_SOURCE

# Alembic (with SQLAlchemy) and werkzeug's server are imported by the commands that use them:
# every run of the script imports this module first, and `letters batch-pdf` can start its
# render server only once it has.
if TYPE_CHECKING:
    from sqlalchemy import Engine


def _create_app() -> Flask:
    from letters import create_app

    return create_app()


def upgrade_embedded_database() -> None:
    """On the embedded default, bring the SQLite schema up to date before using it.

    Only `letters serve` and the commands that need tables call this: production upgrades as a
    deployment step (`letters db upgrade`), and workers never change the schema.
    """
    from letters import migrations
    from letters.extensions import db as sqlalchemy

    try:
        outcome = migrations.upgrade_embedded(
            sqlalchemy.engine, current_app.config["DATABASE_AUTO_UPGRADE"]
        )
    except migrations.MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    if outcome is not None and outcome.changed:
        click.echo(f"letters: {outcome.describe()}")


# `letters serve` runs its email worker this much below the site: about the share of a busy CPU
# that docker-compose.yml's cpu_shares of 256 against the web's 1,024 gives the workers there.
EMBEDDED_WORKER_NICENESS = 6


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Letters to MPs: run the site, refresh member data, look up postcodes."""


def register(app: Flask) -> None:
    """Attach the commands to the app, so `flask --app letters ...` has them too.

    `letters db` and `letters batch-pdf` are not among them: they are attached to the `letters`
    script itself (below), so that running them does not first build the app, whose start-up
    may upgrade the database and which a print run would hold in memory for nothing.
    """
    app.cli.add_command(serve)
    app.cli.add_command(worker)
    app.cli.add_command(printer)
    app.cli.add_command(data)
    app.cli.add_command(lookup)
    app.cli.add_command(campaign)
    app.cli.add_command(housekeeping)
    from letters.organiser.cli import organiser

    app.cli.add_command(organiser)


@click.command()
@with_appcontext
@click.option("--port", default=5000, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--worker/--no-worker",
    default=None,
    help=(
        "Also run a Celery worker with the periodic jobs, and a printer "
        "[default: on with the embedded broker]."
    ),
)
def serve(port: int, worker: bool | None) -> None:
    """Run the site on 127.0.0.1 with the embedded defaults."""
    from werkzeug.serving import run_simple

    from letters.printing.letter import prepare_process

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if worker is None:
        worker = app.config["BROKER_URL"].startswith("filesystem://")
    upgrade_embedded_database()
    environment = dict(os.environ)
    if "LETTERS_BASE_URL" not in environment:
        # Links in emails (the confirmation link above all) must point at this server.
        environment["LETTERS_BASE_URL"] = app.config["BASE_URL"] = f"http://127.0.0.1:{port}"
    prepare_process()
    click.echo(f"letters: http://127.0.0.1:{port}/  (instance: {app.config['INSTANCE_DIR']})")
    if not app.config["SENDGRID_API_KEY"]:
        click.echo(f"letters: no SENDGRID_API_KEY, so emails go to {app.config['OUTBOX_DIR']}")
    embedded: list[subprocess.Popen[bytes]] = []
    if worker:
        # Separate processes, like real workers: the web server stays responsive. One sends
        # email and runs the periodic jobs; the printer takes print runs, which hold it for
        # minutes, so a supporter's email never waits for an organiser's printing.
        worker_command = ["worker", "--beat", "--concurrency", "1"]
        worker_command += ["--nice", str(EMBEDDED_WORKER_NICENESS)]
        for command in (worker_command, ["printer"]):
            argv = [sys.executable, "-m", "letters", *command]
            embedded.append(subprocess.Popen(argv, env=environment))  # noqa: S603 - our own
    # SIGTERM (from a process manager, or a test) should stop us like Ctrl-C: through the
    # finally below, so the embedded workers are not left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # Flask's app.run() refuses to start under its own CLI, so serve through Werkzeug.
        run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False)
    finally:
        for process in embedded:
            process.terminate()
        for process in embedded:
            process.wait(timeout=30)


@click.command(context_settings={"ignore_unknown_options": True})
@with_appcontext
@click.option("--beat", is_flag=True, help="Also run the periodic jobs (one per deployment).")
@click.option("-c", "--concurrency", type=int, default=None, help="Worker processes.")
@click.option(
    "--nice",
    "niceness",
    type=click.IntRange(0, 19),
    default=0,
    help="Run this far below other processes' CPU priority (a site on this machine first).",
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(
    beat: bool, concurrency: int | None, niceness: int, celery_args: tuple[str, ...]
) -> None:
    """Run a Celery worker for email and the periodic jobs (extra arguments go to Celery)."""
    if niceness:
        os.nice(niceness)  # before Celery forks its pool, whose processes inherit it
    _run_worker(current_app.config["TASK_QUEUE"], concurrency, beat, celery_args)


@click.command(context_settings={"ignore_unknown_options": True})
@with_appcontext
@click.option(
    "-c",
    "--concurrency",
    type=int,
    default=1,
    show_default=True,
    help="Print runs at once (each renders on every core: keep 1 per machine).",
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def printer(concurrency: int, celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker for print runs (extra arguments go to Celery)."""
    _run_worker(current_app.config["PRINT_QUEUE"], concurrency, False, celery_args)


def worker_argv(
    config: Mapping[str, Any],
    queue: str,
    concurrency: int | None,
    beat: bool,
    celery_args: tuple[str, ...],
    pid: int,
) -> list[str]:
    """Celery's worker arguments for one queue."""
    argv = ["worker", "--loglevel=INFO", f"--queues={queue}"]
    if not any(arg in ("-n", "--hostname") or arg.startswith("--hostname=") for arg in celery_args):
        # A name of its own, so that workers sharing a machine (`letters serve`, or several
        # replicas on one host) do not clash: Celery's default is the same for all of them.
        role = "printer" if queue == config["PRINT_QUEUE"] else "worker"
        argv.append(f"--hostname={role}-{pid}@%h")
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        argv += ["--beat", f"--schedule={config['INSTANCE_DIR'] / 'celerybeat-schedule'}"]
    if config["BROKER_URL"].startswith("filesystem://"):
        # The file-system transport has no broadcast: skip the worker-to-worker chatter.
        argv += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    return [*argv, *celery_args]


def _run_worker(
    queue: str, concurrency: int | None, beat: bool, celery_args: tuple[str, ...]
) -> None:
    """Start a Celery worker of this app on one queue."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    celery_app = app.extensions["celery"]
    celery_app.worker_main(
        worker_argv(app.config, queue, concurrency, beat, celery_args, os.getpid())
    )


def _moment(value: str) -> dt.datetime:
    """An ISO date-time for --now; one without a zone is read in LETTERS_TIMEZONE."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO date-time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))
    return moment


@click.command()
@with_appcontext
@click.option("--now", "at", metavar="ISO-DATETIME", help="Run as if it were this moment.")
@click.option("--dry-run", is_flag=True, help="Count what is due; change and send nothing.")
def housekeeping(at: str | None, dry_run: bool) -> None:
    """Run every periodic job once (what beat runs; for cron without beat)."""
    from letters import clock
    from letters import housekeeping as jobs

    upgrade_embedded_database()
    moment = _moment(at) if at else clock.now()
    # --now stops the clock there for the run; without it the clock runs as usual.
    with clock.frozen(moment) if at else nullcontext():
        done = jobs.run(dry_run=dry_run)
    click.echo(f"{'dry run, nothing changed' if dry_run else 'ran'} at {moment.isoformat()}")
    for name, counts in done.items():
        figures = " ".join(f"{key}={value}" for key, value in counts.items())
        click.echo(f"{name}: {'would: ' if dry_run else ''}{figures}")


@click.group(cls=AppGroup)
def data() -> None:
    """Member and electorate data."""


@data.command("refresh")
@click.option(
    "--from",
    "source",
    default=DEFAULT_SOURCE,
    show_default=True,
    help="A folder or base URL holding the OpenAustralia CSV files.",
)
def data_refresh(source: str) -> None:
    """Download, check and install the current members and the postcode index."""
    from letters.refresh import RefreshError, refresh

    click.echo(f"Refreshing member data from {source} ...")
    try:
        report = refresh(source, current_app.config["DATA_DIR"])
    except RefreshError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.summary())


@click.command()
@with_appcontext
@click.argument("postcode")
@click.option("--state", default=None, help="Only accept divisions in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as /api/divisions.")
def lookup(postcode: str, state: str | None, as_json: bool) -> None:
    """Find the federal divisions and members for a postcode."""
    from letters.domain.directory import load_directory

    directory = load_directory(current_app.config["DATA_DIR"])
    if directory is None:
        raise click.ClickException("no member data yet: run `letters data refresh` first")
    result = directory.lookup(postcode, state)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    if result.error:
        raise click.ClickException(result.error)
    for division in result.divisions:
        member = division.member
        who = f"{member.display_name} ({member.party})" if member else "no current member"
        click.echo(f"{division.name} ({division.state}): {who}")
    for note in result.notes:
        click.echo(f"note: {note}")


@click.group(cls=AppGroup)
def campaign() -> None:
    """Campaign content files."""


@campaign.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def campaign_check(files: tuple[Path, ...]) -> None:
    """Validate campaign files; exit non-zero naming each file, field and problem."""
    failed = False
    for path in files:
        try:
            loaded = load_campaign(path)
        except CampaignError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(f"{exc.path}: {problem}", err=True)
            continue
        click.echo(
            f"{path}: ok ({len(loaded.statistics)} statistics, "
            f"{len(loaded.recommendations)} recommendations)"
        )
    if failed:
        raise SystemExit(1)


# --- letters db: schema migrations (letters/migrations/) -----------------------------------


@main.group(cls=click.Group)  # a plain group: each command builds the app as it needs
def db() -> None:
    """Database schema: upgrade it, see where it is, write migrations."""


@contextmanager
def _database() -> Iterator[Engine]:
    """The configured database, through an app that leaves the schema alone at start."""
    from alembic.util import CommandError

    from letters import create_app, migrations
    from letters.extensions import db as sqlalchemy

    app = create_app()
    with app.app_context():
        try:
            yield sqlalchemy.engine
        except migrations.MigrationError as exc:
            raise click.ClickException(str(exc)) from exc
        except CommandError as exc:  # Alembic's: an unknown revision, say
            raise click.ClickException(str(exc)) from exc
        finally:
            sqlalchemy.engine.dispose()


@db.command("upgrade")
@click.argument("revision", default="head")
@click.option("--sql", is_flag=True, help="Print the SQL from an empty database; change nothing.")
def db_upgrade(revision: str, sql: bool) -> None:
    """Bring the database to REVISION (the newest by default), in one transaction."""
    from letters import migrations

    with _database() as engine:
        if sql:
            migrations.upgrade_sql(engine.url.render_as_string(hide_password=False), revision)
            return
        click.echo(migrations.upgrade(engine, revision).describe())


@db.command("downgrade", context_settings={"ignore_unknown_options": True})  # for "-1"
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ("-1" for one step, "base" for none); loses data."""
    from letters import migrations

    with _database() as engine:
        click.echo(migrations.downgrade(engine, revision).describe())


@db.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is the newest."""
    from letters import migrations

    with _database() as engine, engine.connect() as connection:
        at = migrations.current(connection)
        newest = migrations.head()
        if at == newest:
            click.echo(f"{at} (newest)")
        elif at is not None:
            click.echo(f"{at}; the newest is {newest}: run `letters db upgrade`")
        else:
            click.echo("no migration history: `letters db upgrade` creates the tables")


@db.command("stamp")
@click.argument("revision")
def db_stamp(revision: str) -> None:
    """Record that the database is at REVISION without changing its tables."""
    from letters import migrations

    with _database() as engine:
        migrations.stamp(engine, revision)
    click.echo(f"database stamped at {revision}")


@db.command("check")
def db_check() -> None:
    """Fail if the models have changes that no migration makes yet (Alembic's check)."""
    from alembic.util import AutogenerateDiffsDetected

    from letters import migrations

    try:
        migrations.check()
    except AutogenerateDiffsDetected as exc:
        raise click.ClickException(
            f"{exc}\nWrite the migration: `letters db revision --autogenerate -m 'what changed'`"
        ) from exc
    click.echo(f"the models match the migrations (newest: {migrations.head()})")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option(
    "--autogenerate",
    is_flag=True,
    help="Fill it in from the difference between the models and the newest revision.",
)
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration into letters/migrations/versions/ (a draft: read it)."""
    from letters import migrations

    for path in migrations.new_revision(message, autogenerate=autogenerate):
        click.echo(f"wrote {path}")
    click.echo("Read and correct it, then `letters db upgrade` and run the tests.")


# --- letters batch-pdf: an attendee CSV printed without the app (letters/printing/cli.py) ---

main.add_command(batch_pdf)
