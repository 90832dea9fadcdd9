"""Every setting, read from the environment; the defaults are the embedded single-machine setup."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

# The repository's own folders: templates and campaign content ship with the code.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused in production (see below)


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Build the Flask config from LETTERS_* / SENDGRID_* variables."""
    env = os.environ if environ is None else environ
    instance_dir = Path(env.get("LETTERS_INSTANCE_DIR", Path.cwd() / "instance")).resolve()
    data_dir = Path(env.get("LETTERS_DATA_DIR", instance_dir / "data")).resolve()
    return {
        "INSTANCE_DIR": instance_dir,
        "DATA_DIR": data_dir,
        "CAMPAIGNS_DIR": Path(
            env.get("LETTERS_CAMPAIGNS_DIR", PROJECT_ROOT / "data" / "campaigns")
        ),
        "DEFAULT_CAMPAIGN": env.get("LETTERS_DEFAULT_CAMPAIGN", "tougher-on-tech"),
        "SQLALCHEMY_DATABASE_URI": database_url(
            env.get("LETTERS_DATABASE_URL", f"sqlite:///{instance_dir / 'letters.sqlite3'}")
        ),
        # None: `letters serve` upgrades the schema on SQLite (the embedded default needs no
        # setup step) and never elsewhere, where `letters db upgrade` is a deployment step.
        "DATABASE_AUTO_UPGRADE": flag(env, "LETTERS_DATABASE_AUTO_UPGRADE"),
        "SECRET_KEY": env.get("LETTERS_SECRET_KEY", DEFAULT_SECRET_KEY),
        "BASE_URL": env.get("LETTERS_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "ENV_NAME": env.get("LETTERS_ENV", "development"),
        "TIMEZONE": env.get("LETTERS_TIMEZONE", "Australia/Sydney"),
        # "json": one JSON object a line, for a log collector (letters/logs.py).
        "LOG_FORMAT": env.get("LETTERS_LOG_FORMAT", "text"),
        # Runs this process's clock ahead of (or behind) the machine's: for tests and for
        # rehearsing what happens days later (letters/clock.py). Leave it unset otherwise.
        "CLOCK_OFFSET_SECONDS": _number(env, "LETTERS_CLOCK_OFFSET_SECONDS", "0"),
        "BROKER_URL": env.get("LETTERS_BROKER_URL", "filesystem://"),
        # A person takes longer than this to fill in /write; most bots do not.
        "MIN_FILL_SECONDS": float(env.get("LETTERS_MIN_FILL_SECONDS", "3")),
        # Supporters' personal details are removed this long after a letter is finished.
        "KEEP_PERSONAL_DATA_DAYS": _number(env, "LETTERS_KEEP_PERSONAL_DATA_DAYS", "28"),
        # Attendees' personal details are removed this long after their event's day ends.
        "KEEP_EVENT_DATA_DAYS": _number(env, "LETTERS_KEEP_EVENT_DATA_DAYS", "28"),
        # Print files copy every attendee's details, so they go sooner: this long after printing.
        "KEEP_PRINT_FILES_DAYS": _number(env, "LETTERS_KEEP_PRINT_FILES_DAYS", "7"),
        "TASK_QUEUE": env.get("LETTERS_TASK_QUEUE", "letters"),
        # Print runs have a queue and workers of their own, so email never waits behind one.
        "PRINT_QUEUE": env.get(
            "LETTERS_PRINT_QUEUE", env.get("LETTERS_TASK_QUEUE", "letters") + "-print"
        ),
        # Email. Without a SendGrid key every email is written to the outbox folder instead.
        "FROM_EMAIL": env.get("LETTERS_FROM_EMAIL", "letters@localhost"),
        "OUTBOX_DIR": Path(env.get("LETTERS_OUTBOX_DIR", instance_dir / "outbox")),
        "CONTACTS_FILE": Path(
            env.get("LETTERS_CONTACTS_FILE", PROJECT_ROOT / "data" / "contacts.csv")
        ),
        "SENDGRID_API_KEY": env.get("SENDGRID_API_KEY", ""),
        "SENDGRID_API_HOST": env.get("SENDGRID_API_HOST", "https://api.sendgrid.com"),
        "SENDGRID_WEBHOOK_PUBLIC_KEY": env.get("SENDGRID_WEBHOOK_PUBLIC_KEY", ""),
        "SEND_TIMEOUT_SECONDS": float(env.get("LETTERS_SEND_TIMEOUT_SECONDS", "10")),
        "SEND_LEASE_SECONDS": float(env.get("LETTERS_SEND_LEASE_SECONDS", "120")),
        "SEND_MAX_ATTEMPTS": int(env.get("LETTERS_SEND_MAX_ATTEMPTS", "8")),
        "SEND_RETRY_BASE_SECONDS": float(env.get("LETTERS_SEND_RETRY_BASE_SECONDS", "30")),
        "SWEEP_INTERVAL_SECONDS": float(env.get("LETTERS_SWEEP_INTERVAL_SECONDS", "30")),
        "SWEEP_QUEUED_AFTER_SECONDS": float(env.get("LETTERS_SWEEP_QUEUED_AFTER_SECONDS", "60")),
        "CONFIRM_REMIND_AFTER_HOURS": float(env.get("LETTERS_CONFIRM_REMIND_AFTER_HOURS", "24")),
        "CONFIRM_EXPIRE_AFTER_HOURS": float(env.get("LETTERS_CONFIRM_EXPIRE_AFTER_HOURS", "168")),
        # "Did your MP reply?": asked this long after an emailed letter was sent, reminded once
        # this long after that, and asked once more this long after a "no reply yet".
        "FOLLOWUP_AFTER_DAYS": _number(env, "LETTERS_FOLLOWUP_AFTER_DAYS", "14"),
        "FOLLOWUP_REMINDER_DAYS": _number(env, "LETTERS_FOLLOWUP_REMINDER_DAYS", "7"),
        "FOLLOWUP_AGAIN_DAYS": _number(env, "LETTERS_FOLLOWUP_AGAIN_DAYS", "21"),
        # Where a supporter's reply to the follow-up email goes (the organiser); none if empty.
        "FOLLOWUP_REPLY_TO": env.get("LETTERS_FOLLOWUP_REPLY_TO", ""),
        # Confirmations and notices the letter form may send one mailbox in 24 hours, whoever
        # asks: anyone can type anyone's address, and this keeps the form from flooding it.
        "EMAILS_PER_ADDRESS_PER_DAY": int(env.get("LETTERS_EMAILS_PER_ADDRESS_PER_DAY", "5")),
        # The largest request body a route takes unless it says otherwise (the webhook and
        # the attendee import do): however the body is sent, chunked included. A letter is a
        # few kilobytes.
        "MAX_CONTENT_LENGTH": int(_number(env, "LETTERS_MAX_FORM_BYTES", str(256 * 1024))),
        # An event's kiosk link works until this many days after the event's day ends.
        "KIOSK_GRACE_DAYS": _number(env, "LETTERS_KIOSK_GRACE_DAYS", "1"),
        # Organisers. Several web processes need a shared store (e.g. redis://) for the limit.
        "RATELIMIT_STORAGE_URI": env.get("LETTERS_RATELIMIT_STORAGE_URL", "memory://"),
        # How many reverse proxies (a load balancer, nginx...) stand in front of the app. Their
        # X-Forwarded-For/-Proto headers are believed only this many hops deep; 0 believes none,
        # since anyone can send those headers to dodge per-address limits.
        "TRUSTED_PROXIES": int(env.get("LETTERS_TRUSTED_PROXIES", "0")),
        # Per address. Generous: a church hall's supporters may share one address.
        "SUPPORTER_POST_LIMIT": env.get("LETTERS_SUPPORTER_POST_LIMIT", "60 per hour"),
        "LOOKUP_LIMIT": env.get("LETTERS_LOOKUP_LIMIT", "600 per hour"),
        # The live preview asks once a pause in typing (it stores nothing, and costs a few
        # milliseconds): far more often than the form is sent, so its own, larger limit.
        "PREVIEW_LIMIT": env.get("LETTERS_PREVIEW_LIMIT", "60 per minute; 1200 per hour"),
        "ORGANISER_SESSION_HOURS": float(env.get("LETTERS_ORGANISER_SESSION_HOURS", "12")),
        "ORGANISER_IDLE_MINUTES": float(env.get("LETTERS_ORGANISER_IDLE_MINUTES", "120")),
        "BATCH_WORKERS": int(env.get("LETTERS_BATCH_WORKERS", "0")),  # 0: every usable core
        # A running print run whose heartbeat is this old lost its process; the sweep fails it.
        "BATCH_HEARTBEAT_TIMEOUT_SECONDS": _number(
            env, "LETTERS_BATCH_HEARTBEAT_TIMEOUT_SECONDS", "120"
        ),
        # A print run alive but with no letter, label or envelope done for this long is hung
        # (a chunk takes seconds); the sweep fails it and its task stops the render.
        "BATCH_PROGRESS_TIMEOUT_SECONDS": _number(
            env, "LETTERS_BATCH_PROGRESS_TIMEOUT_SECONDS", "600"
        ),
        # A print run still queued after this long was never started by a worker.
        "BATCH_QUEUED_TIMEOUT_SECONDS": _number(
            env, "LETTERS_BATCH_QUEUED_TIMEOUT_SECONDS", "1800"
        ),
    }


def _number(env: Mapping[str, str], variable: str, default: str) -> float:
    """A numeric setting; a ConfigError naming the variable when it is not a number."""
    value = env.get(variable, default)
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{variable} must be a number, not {value!r}") from None


# Retention periods, in days: each must be a positive, finite number. Zero would remove data
# an organiser may be downloading at that moment; "inf" would quietly keep it for ever.
RETENTION_SETTINGS = {
    "KEEP_PERSONAL_DATA_DAYS": "LETTERS_KEEP_PERSONAL_DATA_DAYS",
    "KEEP_EVENT_DATA_DAYS": "LETTERS_KEEP_EVENT_DATA_DAYS",
    "KEEP_PRINT_FILES_DAYS": "LETTERS_KEEP_PRINT_FILES_DAYS",
}


def _positive(value: object) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool) and 0 < value < math.inf


def database_url(url: str) -> str:
    """Accept the usual postgresql:// spelling and use the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def flag(env: Mapping[str, str], name: str) -> bool | None:
    """An on/off setting; None when unset, so the default can depend on other settings."""
    value = env.get(name, "")
    word = value.strip().lower()
    if not word:
        return None
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no), not {value!r}")


class ConfigError(ValueError):
    """A setting that would make the app unsafe or wrong; raised at start-up."""


def check(config: Mapping[str, object]) -> None:
    """Refuse settings that cannot work together, or that are unsafe in production."""
    if config["ENV_NAME"] == "production":
        secret = str(config.get("SECRET_KEY") or "")
        if secret == DEFAULT_SECRET_KEY or len(secret) < 32:
            raise ConfigError(
                "LETTERS_SECRET_KEY must be set to a long random value in production "
                '(for example: python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
    if config.get("LOG_FORMAT", "text") not in ("text", "json"):
        raise ConfigError(f"LETTERS_LOG_FORMAT must be text or json (got {config['LOG_FORMAT']!r})")
    proxies = config.get("TRUSTED_PROXIES", 0)
    if not isinstance(proxies, int) or proxies < 0:
        raise ConfigError(f"LETTERS_TRUSTED_PROXIES must be 0 or more (got {proxies!r})")
    for key, variable in RETENTION_SETTINGS.items():
        if not _positive(config[key]):
            raise ConfigError(f"{variable} must be a positive number of days, not {config[key]!r}")
    for key in ("FOLLOWUP_AFTER_DAYS", "FOLLOWUP_REMINDER_DAYS", "FOLLOWUP_AGAIN_DAYS"):
        if not _positive(config[key]):
            raise ConfigError(
                f"LETTERS_{key} must be a positive number of days, not {config[key]!r}"
            )
    for key in (
        "BATCH_HEARTBEAT_TIMEOUT_SECONDS",
        "BATCH_PROGRESS_TIMEOUT_SECONDS",
        "BATCH_QUEUED_TIMEOUT_SECONDS",
    ):
        if not _positive(config[key]):
            raise ConfigError(
                f"LETTERS_{key} must be a positive number of seconds, not {config[key]!r}"
            )
    grace = config["KIOSK_GRACE_DAYS"]
    if not (isinstance(grace, float | int) and 0 <= grace < math.inf):
        raise ConfigError(f"LETTERS_KIOSK_GRACE_DAYS must be 0 or more days, not {grace!r}")
    lease, timeout = config["SEND_LEASE_SECONDS"], config["SEND_TIMEOUT_SECONDS"]
    if not (isinstance(lease, float | int) and isinstance(timeout, float | int)):
        raise ConfigError("LETTERS_SEND_LEASE_SECONDS and _TIMEOUT_SECONDS must be numbers")
    if lease <= timeout:
        # A lease that ends while its request may still be in flight would let the sweep hand
        # the same letter to a second worker.
        raise ConfigError(
            f"LETTERS_SEND_LEASE_SECONDS ({lease}) must be longer than "
            f"LETTERS_SEND_TIMEOUT_SECONDS ({timeout})"
        )
