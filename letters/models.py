"""Database models (SQLAlchemy 2, typed columns)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from letters import clock
from letters.domain.print_runs import PrintRunState
from letters.extensions import db


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every database (SQLite keeps no offset, so add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given: use an aware UTC datetime")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def _utcnow() -> dt.datetime:
    return clock.now()


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
    # The mailbox sender_email reaches (letters/mail/address_keys.py): one letter a week per
    # mailbox, however the address is spelt.
    sender_email_key: Mapped[str] = mapped_column(
        String(254), default="", server_default="", index=True
    )
    sender_street: Mapped[str] = mapped_column(String(200), default="")
    sender_suburb: Mapped[str] = mapped_column(String(100), default="")
    sender_state: Mapped[str] = mapped_column(String(3), default="")
    sender_postcode: Mapped[str] = mapped_column(String(4), default="")

    # A snapshot of the member at writing time: a later data refresh must not rewrite a letter.
    division: Mapped[str] = mapped_column(String(100))
    division_state: Mapped[str] = mapped_column(String(3), default="")
    member_name: Mapped[str] = mapped_column(String(200))
    member_party: Mapped[str] = mapped_column(String(20), default="")
    member_salutation: Mapped[str] = mapped_column(String(200), default="")  # contacts.csv

    statistics: Mapped[list[str]] = mapped_column(JSON, default=list)
    recommendations: Mapped[list[str]] = mapped_column(JSON, default=list)
    personal_note: Mapped[str] = mapped_column(Text, default="")

    letter_date: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow, onupdate=_utcnow)

    # Email letters (see letters/domain/lifecycle.py for the states).
    recipient_email: Mapped[str] = mapped_column(String(254), default="")
    recipient_email_verified: Mapped[bool] = mapped_column(default=False)
    confirmation_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Each email about the letter is claimed under a lease while a worker sends it, and marked
    # sent only once SendGrid took it (letters/messages/email_jobs.py).
    confirmation_claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reminder_claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    receipt_claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failure_notice_claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # What the latest confirmation was asked for: a digest of the composed letter and its
    # recipient (letters/mail/content.py). Its link carries the digest, and confirming sends
    # the letter only while the two still match, so an edit needs a fresh confirmation.
    confirmation_digest: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # The supporter's mailbox already emailed this member this week: it gets a notice instead
    # of a confirmation link, and the letter can only be printed (letters/messages/limits.py).
    over_weekly_limit: Mapped[bool] = mapped_column(default=False, server_default=false())
    reminder_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    provider_message_id: Mapped[str] = mapped_column(String(100), default="", index=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    failure_notice_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The supporter's copy of the letter, sent once SendGrid accepted it.
    receipt_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the supporter's personal details were removed (letters/retention.py).
    scrubbed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_message_state", "state"),)


class OwnWordsShingle(db.Model):  # type: ignore[name-defined]
    """One word shingle of a letter's own words, filed under the division it went to, so that
    a letter's own words are compared with other letters' to that member in one indexed query
    (letters/messages/own_words.py). Derived from personal text: removed with it."""

    __tablename__ = "own_words_shingle"
    __table_args__ = (
        Index("ix_own_words_shingle_division_shingle", "division", "shingle", "written_at"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("message.id", ondelete="CASCADE"), primary_key=True
    )
    shingle: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    division: Mapped[str] = mapped_column(String(100))
    # The letter's created_at, copied so the window needs no join back to the letter.
    written_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AddressEmail(db.Model):  # type: ignore[name-defined]
    """One email the letter form had us send to a supporter's address (a confirmation or a
    notice), kept a day to limit how many any address gets (letters/messages/limits.py)."""

    __tablename__ = "address_email"
    __table_args__ = (
        Index("ix_address_email_address_hash_created_at", "address_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A keyed hash of the mailbox, not the address: this table outlives no letter's details.
    address_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class UsedFormToken(db.Model):  # type: ignore[name-defined]
    """A letter form's start token that was already submitted: each is good for one POST."""

    __tablename__ = "used_form_token"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow, index=True)


class DeliveryEvent(db.Model):  # type: ignore[name-defined]
    """One SendGrid event, stored once, matched to its message by the UUID we sent."""

    __tablename__ = "delivery_event"
    __table_args__ = (
        # SendGrid may post the same event twice with different ids: also unique by content.
        UniqueConstraint("message_id", "kind", "event", "occurred_at", name="uq_event_content"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sg_event_id: Mapped[str] = mapped_column(String(100), unique=True)
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="")  # letter, confirmation, ...
    event: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[int] = mapped_column(BigInteger)  # SendGrid's Unix timestamp, as sent
    reason: Mapped[str] = mapped_column(Text, default="")
    bounce_type: Mapped[str] = mapped_column(String(30), default="")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class ContactStatus(db.Model):  # type: ignore[name-defined]
    """What sending has taught us about a division's email address (a hard bounce fails it)."""

    __tablename__ = "contact_status"

    division: Mapped[str] = mapped_column(String(100), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    failing: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow, onupdate=_utcnow)


# --- Organisers and events (issue 4): accounts, events, attendees, batch print jobs ----------


def new_session_token() -> str:
    """A random login id; changing it signs the organiser out everywhere."""
    return secrets.token_urlsafe(24)


def new_kiosk_nonce() -> str:
    """The part of an event's kiosk link that a "new link" replaces, revoking the old one."""
    return secrets.token_urlsafe(12)


class Organiser(db.Model):  # type: ignore[name-defined]
    """Someone who runs letter-writing events; created with `letters organiser create`."""

    __tablename__ = "organiser"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(256))
    # Changes with every new password: device cookies name it (letters/organiser/throttle.py),
    # so a new password also makes every browser a stranger again.
    session_token: Mapped[str] = mapped_column(
        String(64), unique=True, index=True, default=new_session_token
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Wrong passwords since the last right one, and until when a browser this account has
    # not logged in from must wait to try again (letters/organiser/throttle.py).
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    login_wait_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # Flask-Login's user interface, written out rather than mixed in.
    is_active = True
    is_authenticated = True
    is_anonymous = False

    # The login (OrganiserSession) this request came with, or the one just made: Flask-Login
    # keeps its id in the session cookie, and the id means nothing once the row is gone.
    login_session_id = None  # not a column: set per request (str once logged in)

    def get_id(self) -> str:
        if self.login_session_id is None:
            raise RuntimeError("an organiser is logged in through letters.organiser.auth only")
        return self.login_session_id


def new_login_session_id() -> str:
    return secrets.token_urlsafe(32)


class OrganiserSession(db.Model):  # type: ignore[name-defined]
    """One browser's login. Logging out deletes it, so a cookie copied before opens nothing."""

    __tablename__ = "organiser_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_login_session_id)
    organiser_id: Mapped[int] = mapped_column(
        ForeignKey("organiser.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class Event(db.Model):  # type: ignore[name-defined]
    """A letter-writing event: where and when, which campaign, and its attendees."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        ForeignKey("organiser.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    date: Mapped[dt.date]
    venue: Mapped[str] = mapped_column(String(200), default="")
    campaign_key: Mapped[str] = mapped_column(String(60))
    kiosk_nonce: Mapped[str] = mapped_column(String(32), default=new_kiosk_nonce)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    # When the attendees' personal details were removed (letters/retention.py); from then on
    # the event takes no new attendees and prints nothing.
    personal_data_removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Attendee(db.Model):  # type: ignore[name-defined]
    """One person's letter at an event, from an imported row, the kiosk or an edit."""

    __tablename__ = "attendee"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(10), default="import")  # import | kiosk
    source_row: Mapped[int | None]  # the spreadsheet row it came from, for the organiser

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    street: Mapped[str] = mapped_column(String(200), default="")
    suburb: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(3), default="")
    postcode: Mapped[str] = mapped_column(String(4))

    # Empty until settled; then a snapshot of the member, as on Message.
    division: Mapped[str] = mapped_column(String(100), default="")
    division_state: Mapped[str] = mapped_column(String(3), default="")
    member_name: Mapped[str] = mapped_column(String(200), default="")
    member_party: Mapped[str] = mapped_column(String(20), default="")

    # Empty lists mean "the campaign's defaults", resolved when the letter is printed.
    statistics: Mapped[list[str]] = mapped_column(JSON, default=list)
    recommendations: Mapped[list[str]] = mapped_column(JSON, default=list)
    personal_note: Mapped[str] = mapped_column(Text, default="")
    # Set when the note itself is removed (letters/retention.py), so organisers can still
    # count how many wrote in their own words.
    wrote_own_words: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The attendee ticked "You may email me later to ask whether my MP replied" (and gave an
    # email): only then is their printed letter followed up (letters/messages/followups.py).
    may_follow_up: Mapped[bool] = mapped_column(default=False, server_default=false())
    # When a print run holding their letter first finished (letters/printing/runs.py): the
    # follow-up counts its days from here.
    printed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)

    @property
    def settled(self) -> bool:
        return bool(self.division and self.member_name)

    @property
    def own_words(self) -> bool:
        return bool(self.personal_note) or self.wrote_own_words


class BatchJob(db.Model):  # type: ignore[name-defined]
    """One print run of an event's letters: options, progress and where the files are."""

    __tablename__ = "batch_job"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    # A PrintRunState (letters/domain/print_runs.py)
    state: Mapped[str] = mapped_column(String(10), default=PrintRunState.QUEUED.value)
    options: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    stage: Mapped[str] = mapped_column(String(20), default="")  # letters | labels | envelopes
    files: Mapped[list[str]] = mapped_column(JSON, default=list)  # names in the job's folder
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    files_removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Each claim starts a new attempt; a run writes to the row only while its attempt is the
    # live one, so a process presumed dead can never overwrite its replacement's outcome.
    attempt: Mapped[int] = mapped_column(default=0, server_default="0")
    # The job's last sign of life: when it was queued, then its running process's heartbeat.
    # The sweep fails a job whose sign is too old (letters/printing/runs.py).
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the running attempt last finished a piece of work. A live process that stops
    # progressing is hung: the sweep fails it (and its task then stops the render).
    progress_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- Follow-up (issue 11): did the member reply? ---------------------------------------------


def _follow_up_id(context: Any) -> uuid.UUID:
    """A letter's follow-up is named by the letter's own id (as every row was before event
    letters were asked about); a printed letter's gets a fresh one."""
    message_id = context.get_current_parameters().get("message_id")
    return message_id if message_id is not None else uuid.uuid4()


class FollowUp(db.Model):  # type: ignore[name-defined]
    """Asking a writer whether their letter got a reply, and what they said.

    One row per letter, made when the first question is due (letters/messages/followups.py):
    either an emailed letter (message_id) or a letter printed at an event for an attendee who
    agreed to be asked (attendee_id), never both.
    """

    __tablename__ = "follow_up"
    __table_args__ = (
        CheckConstraint("(message_id IS NULL) <> (attendee_id IS NULL)", name="one_letter"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=_follow_up_id)
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("message.id", ondelete="CASCADE"), unique=True
    )
    attendee_id: Mapped[int | None] = mapped_column(
        ForeignKey("attendee.id", ondelete="CASCADE"), unique=True
    )
    # The public name of a printed letter's answer pages (an emailed letter's are named by the
    # letter's token), 192 random bits as letter pages are.
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    asked_again_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # "" until answered; then one of followups.ANSWERS.
    answer: Mapped[str] = mapped_column(String(20), default="", server_default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The member's reply as the supporter pasted it: personal data, removed with the letter's
    # details (letters/retention.py); organisers read it only when reply_shared.
    reply_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    reply_shared: Mapped[bool] = mapped_column(default=False, server_default=false())
    stop_asking: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The lease of the worker sending one of its emails: claimed by one conditional UPDATE,
    # cleared when the email is recorded as sent; a worker that dies leaves it to run out.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
