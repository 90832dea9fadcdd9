"""The letters web application."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

# Flask and the web's modules are imported when an app is built, not with the package: the
# processes that render a print run import letters.printing (and so this package) and need none
# of them, which keeps their start-up shorter and their memory smaller.


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, then extensions, blueprints and commands."""
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from letters import clock, settings
    from letters.domain.compose import format_date

    app = Flask(
        __name__,
        template_folder=str(settings.PROJECT_ROOT / "templates"),
        static_folder="static",
    )
    app.config.from_mapping(settings.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
    settings.check(app.config)
    clock.set_offset(app.config["CLOCK_OFFSET_SECONDS"])
    app.config["INSTANCE_DIR"].mkdir(parents=True, exist_ok=True)
    if app.config["TRUSTED_PROXIES"]:
        # Behind a proxy every request comes from the proxy's address: without this, all
        # supporters would share one rate limit, and cookies would not know the page was HTTPS.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    app.add_template_filter(format_date, "longdate")
    from letters.supporter.member import finder_links
    from letters.supporter.privacy import privacy_url

    app.add_template_filter(finder_links, "finder_links")

    app.add_template_global(privacy_url, "privacy_url")
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extension instances and load the campaigns."""
    from letters import (
        body_limits,
        campaigns,
        database,
        logs,
        models,  # noqa: F401 - defines the tables
        security,
    )
    from letters.extensions import csrf, db, limiter
    from letters.organiser.auth import init_login
    from letters.queue import celery_init_app

    body_limits.init_app(app)  # first: its checks come before CSRF's
    logs.init_app(app)
    security.init_app(app)
    db.init_app(app)
    database.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    init_login(app)
    campaigns.init_app(app)
    celery_init_app(app)


def register_blueprints(app: Flask) -> None:
    """One blueprint per kind of user, and the campaigns' images."""
    from letters import branding
    from letters.health import bp as health_bp
    from letters.organiser import bp as organiser_bp
    from letters.organiser import kiosk_bp
    from letters.supporter import bp as supporter_bp
    from letters.webhooks import bp as webhooks_bp

    app.register_blueprint(supporter_bp)
    app.register_blueprint(organiser_bp)
    app.register_blueprint(kiosk_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(health_bp)
    branding.init_app(app)


def register_error_handlers(app: Flask) -> None:
    """The site's own page for every error."""
    from letters import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """The `letters` commands, also reachable as `flask --app letters ...`."""
    from letters.cli import register

    register(app)
