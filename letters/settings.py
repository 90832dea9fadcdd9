"""Every setting, read from the environment; the defaults are the embedded single-machine setup."""

from __future__ import annotations

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
        "SECRET_KEY": env.get("LETTERS_SECRET_KEY", DEFAULT_SECRET_KEY),
        "BASE_URL": env.get("LETTERS_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "ENV_NAME": env.get("LETTERS_ENV", "development"),
        "TIMEZONE": env.get("LETTERS_TIMEZONE", "Australia/Sydney"),
    }


def database_url(url: str) -> str:
    """Accept the usual postgresql:// spelling and use the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
