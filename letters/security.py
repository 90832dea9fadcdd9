"""Response headers and cookie settings that every page gets."""

from __future__ import annotations

from flask import Flask, Response, request

# Scripts and styles only from our own origin: no inline script can run, even if some text
# ever escaped its escaping. Nothing may frame our pages (clickjacking).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


# Pages that show a supporter's or attendee's details: no browser or proxy may keep a copy, or
# the Back button and history of a shared computer would show them to the next person.
PRIVATE_ENDPOINTS = frozenset(
    {
        "supporter.letter",
        "supporter.letter_pdf",
        "supporter.edit",
        "supporter.confirm",
        "supporter.confirm_send",
    }
)
PRIVATE_BLUEPRINTS = frozenset({"organiser", "kiosk"})  # every organiser page, and the kiosk


def holds_personal_details() -> bool:
    """Whether this response may show someone's details (an answer to a POST may echo them)."""
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static"):
        return False
    return (
        endpoint in PRIVATE_ENDPOINTS
        or request.blueprint in PRIVATE_BLUEPRINTS
        or request.method == "POST"
    )


def cookie_settings(base_url: str, production: bool) -> dict[str, object]:
    """Session and remember-me cookies: HttpOnly, SameSite=Lax, Secure wherever TLS is."""
    secure = production or base_url.startswith("https://")
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
    }


def init_app(app: Flask) -> None:
    """Add the headers to every response."""
    for key, value in cookie_settings(
        app.config["BASE_URL"], app.config["ENV_NAME"] == "production"
    ).items():
        app.config[key] = value

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # Confirmation and letter links carry tokens: never send them to another site.
        headers.setdefault("Referrer-Policy", "same-origin")
        if holds_personal_details() and "no-store" not in headers.get("Cache-Control", ""):
            headers["Cache-Control"] = "no-store"
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
