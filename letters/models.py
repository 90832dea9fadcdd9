"""Database models (SQLAlchemy 2, typed columns)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from sqlalchemy import JSON, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from letters.extensions import db


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_token() -> str:
    """An unguessable public name for a letter's page (192 random bits)."""
    return secrets.token_urlsafe(24)


class Message(db.Model):  # type: ignore[name-defined]
    """One supporter's letter to one member: what they chose and where it stands."""

    __tablename__ = "message"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token: Mapped[str] = mapped_column(String(64), unique=True, index=True, default=new_token)
    campaign_key: Mapped[str] = mapped_column(String(60))
    delivery: Mapped[str] = mapped_column(String(10), default="pdf")
    state: Mapped[str] = mapped_column(String(30), default="draft")

    sender_name: Mapped[str] = mapped_column(String(200))
    sender_email: Mapped[str] = mapped_column(String(254), default="")
    sender_street: Mapped[str] = mapped_column(String(200), default="")
    sender_suburb: Mapped[str] = mapped_column(String(100), default="")
    sender_state: Mapped[str] = mapped_column(String(3), default="")
    sender_postcode: Mapped[str] = mapped_column(String(4), default="")

    # A snapshot of the member at writing time: a later data refresh must not rewrite a letter.
    division: Mapped[str] = mapped_column(String(100))
    division_state: Mapped[str] = mapped_column(String(3), default="")
    member_name: Mapped[str] = mapped_column(String(200))
    member_party: Mapped[str] = mapped_column(String(20), default="")

    statistics: Mapped[list[str]] = mapped_column(JSON, default=list)
    recommendations: Mapped[list[str]] = mapped_column(JSON, default=list)
    personal_note: Mapped[str] = mapped_column(Text, default="")

    letter_date: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=_utcnow, onupdate=_utcnow)
