"""The `letters` console script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from alembic.util import CommandError
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy import Engine
from werkzeug.serving import run_simple

from letters import migrations
from letters.domain.campaign import CampaignError, load_campaign
from letters.refresh import DEFAULT_SOURCE


def _create_app() -> Flask:
    from letters import create_app

    try:
        return create_app()
    except migrations.MigrationError as exc:  # the automatic upgrade on SQLite needs a person
        raise click.ClickException(str(exc)) from exc


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Letters to MPs: run the site, refresh member data, look up postcodes."""


def register(app: Flask) -> None:
    """Attach the commands to the app, so `flask --app letters ...` has them too.

    `letters db` is not among them: it is attached to the `letters` script itself (below), so
    that running it does not first build the app, whose start-up may upgrade the database.
    """
    app.cli.add_command(serve)
    app.cli.add_command(worker)
    app.cli.add_command(data)
    app.cli.add_command(lookup)
    app.cli.add_command(campaign)
    from letters.organiser.cli import batch_pdf, organiser

    app.cli.add_command(organiser)
    app.cli.add_command(batch_pdf)


@click.command()
@with_appcontext
@click.option("--port", default=5000, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--worker/--no-worker",
    default=None,
    help="Also run a Celery worker with the periodic jobs [default: on with the embedded broker].",
)
def serve(port: int, worker: bool | None) -> None:
    """Run the site on 127.0.0.1 with the embedded defaults."""
    from letters.pdf import prepare_process

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if worker is None:
        worker = app.config["BROKER_URL"].startswith("filesystem://")
    outcome = app.extensions.get(migrations.EXTENSION_KEY)
    if outcome is not None and outcome.changed:
        click.echo(f"letters: {outcome.describe()}")
    environment = dict(os.environ)
    if "LETTERS_BASE_URL" not in environment:
        # Links in emails (the confirmation link above all) must point at this server.
        environment["LETTERS_BASE_URL"] = app.config["BASE_URL"] = f"http://127.0.0.1:{port}"
    prepare_process()
    click.echo(f"letters: http://127.0.0.1:{port}/  (instance: {app.config['INSTANCE_DIR']})")
    if not app.config["SENDGRID_API_KEY"]:
        click.echo(f"letters: no SENDGRID_API_KEY, so emails go to {app.config['OUTBOX_DIR']}")
    embedded = None
    if worker:
        # A separate process, like a real worker: the web server stays responsive.
        embedded = subprocess.Popen(
            [sys.executable, "-m", "letters", "worker", "--beat", "--concurrency", "1"],
            env=environment,
        )
    # SIGTERM (from a process manager, or a test) should stop us like Ctrl-C: through the
    # finally below, so the embedded worker is not left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # Flask's app.run() refuses to start under its own CLI, so serve through Werkzeug.
        run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False)
    finally:
        if embedded is not None:
            embedded.terminate()
            embedded.wait(timeout=30)


@click.command(context_settings={"ignore_unknown_options": True})
@with_appcontext
@click.option("--beat", is_flag=True, help="Also run the periodic jobs (one per deployment).")
@click.option("-c", "--concurrency", type=int, default=None, help="Worker processes.")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(beat: bool, concurrency: int | None, celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker for this app (extra arguments go to Celery)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    celery_app = app.extensions["celery"]
    argv = ["worker", "--loglevel=INFO", f"--queues={app.config['TASK_QUEUE']}"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        argv += ["--beat", f"--schedule={app.config['INSTANCE_DIR'] / 'celerybeat-schedule'}"]
    if app.config["BROKER_URL"].startswith("filesystem://"):
        # The file-system transport has no broadcast: skip the worker-to-worker chatter.
        argv += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    celery_app.worker_main([*argv, *celery_args])


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


@main.group(cls=click.Group)  # a plain group: AppGroup would build the app (and upgrade) first
def db() -> None:
    """Database schema: upgrade it, see where it is, write migrations."""


@contextmanager
def _database() -> Iterator[Engine]:
    """The configured database, through an app that leaves the schema alone at start."""
    from letters import create_app
    from letters.extensions import db as sqlalchemy

    app = create_app({"DATABASE_AUTO_UPGRADE": False})
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
    """Bring the database to REVISION (the newest by default).

    A database made before letters had migrations is adopted at the revision its tables
    match; if they match none, nothing is changed and the differences are listed.
    """
    with _database() as engine:
        if sql:
            migrations.upgrade_sql(engine.url.render_as_string(hide_password=False), revision)
            return
        click.echo(migrations.upgrade(engine, revision).describe())


@db.command("downgrade", context_settings={"ignore_unknown_options": True})  # for "-1"
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ("-1" for one step, "base" for none); loses data."""
    with _database() as engine:
        click.echo(migrations.downgrade(engine, revision).describe())


@db.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is the newest."""
    with _database() as engine, engine.connect() as connection:
        at = migrations.current(connection)
        newest = migrations.head()
        if at == newest:
            click.echo(f"{at} (newest)")
        elif at is not None:
            click.echo(f"{at}; the newest is {newest}: run `letters db upgrade`")
        elif migrations.has_tables(connection):
            click.echo(
                "no migration history, but tables made before letters had migrations: "
                "`letters db upgrade` adopts them"
            )
        else:
            click.echo("empty database: `letters db upgrade` creates the tables")


@db.command("stamp")
@click.argument("revision")
def db_stamp(revision: str) -> None:
    """Record that the database is at REVISION without changing its tables."""
    with _database() as engine:
        migrations.stamp(engine, revision)
    click.echo(f"database stamped at {revision}")


@db.command("check")
def db_check() -> None:
    """Fail if the models have changes that no migration makes yet."""
    changes = migrations.unmigrated_model_changes()
    if changes:
        for change in changes:
            click.echo(f"  {change}", err=True)
        raise click.ClickException(
            "the models differ from the migrations: write one with "
            "`letters db revision --autogenerate -m 'what changed'`"
        )
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
    for path in migrations.new_revision(message, autogenerate=autogenerate):
        click.echo(f"wrote {path}")
    click.echo("Read and correct it, then `letters db upgrade` and run the tests.")
