"""Which member a person writes to, from their postcode, state and any division they named.

One rule for the supporter's form, the kiosk, the attendee import and the organiser's edits:
the result says what was found, and each caller turns it into its own words (a field error
on a form, a note on an import row, a choice on the settle page).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from letters.domain.directory import Directory, Division, Lookup


class Named(Enum):
    """How a division the person named relates to their postcode."""

    NOTHING = "nothing"  # no division was named
    LISTED = "listed"  # one of the postcode's divisions
    # A current division in the postcode's state that the postcode data does not list: the
    # data may predate the latest redistribution.
    UNLISTED_IN_STATE = "unlisted-in-state"
    OTHER_STATE = "other-state"  # a current division, in a state the postcode is not in
    UNKNOWN = "unknown"  # not a current division with a member


@dataclass(frozen=True)
class MemberChoice:
    """The lookup, the divisions with a member to choose from, and the one chosen, if any."""

    lookup: Lookup
    candidates: tuple[Division, ...] = ()
    chosen: Division | None = None
    named: Named = Named.NOTHING
    # The current division the person named, when it is one (whatever `named` says of it).
    named_division: Division | None = None

    @property
    def error(self) -> str | None:
        """The postcode's or state's problem, when the lookup could not be made."""
        return self.lookup.error


def resolve_member(
    directory: Directory,
    postcode: str,
    state: str = "",
    named: str = "",
    *,
    trust_named_in_state: bool = False,
) -> MemberChoice:
    """Settle the member when the data allows; otherwise say what there is to choose from.

    A division named among the postcode's is chosen. With no division named, a postcode with
    exactly one division chooses it. `trust_named_in_state` also chooses a named division
    the postcode data does not list but that lies in the postcode's state: an organiser's
    spreadsheet, typed from the AEC's own finder, is more likely right than older data.
    """
    found = directory.lookup(postcode, state or None)
    if found.error:
        return MemberChoice(lookup=found)
    candidates = tuple(d for d in found.divisions if d.member is not None)
    wanted = named.strip().casefold()
    if not wanted:
        sole = found.divisions[0] if len(found.divisions) == 1 else None
        chosen = sole if sole is not None and sole.member is not None else None
        return MemberChoice(lookup=found, candidates=candidates, chosen=chosen)

    listed = next((d for d in found.divisions if d.name.casefold() == wanted), None)
    if listed is not None:
        return MemberChoice(
            lookup=found,
            candidates=candidates,
            chosen=listed if listed.member is not None else None,
            named=Named.LISTED if listed.member is not None else Named.UNKNOWN,
            named_division=listed,
        )
    given = directory.division(named)
    if given is None or given.member is None:
        return MemberChoice(lookup=found, candidates=candidates, named=Named.UNKNOWN)
    if given.state in directory.postcode_states(found.postcode):
        return MemberChoice(
            lookup=found,
            candidates=candidates,
            chosen=given if trust_named_in_state else None,
            named=Named.UNLISTED_IN_STATE,
            named_division=given,
        )
    return MemberChoice(
        lookup=found, candidates=candidates, named=Named.OTHER_STATE, named_division=given
    )


class MemberSnapshot(Protocol):
    """A row that keeps the member it writes to (an attendee, or a row of an import)."""

    division: str
    division_state: str
    member_name: str
    member_party: str


def settle(row: MemberSnapshot, division: Division) -> None:
    """Write to this division's current member: a snapshot, so that a later data refresh
    cannot rewrite a letter already settled."""
    assert division.member is not None
    row.division = division.name
    row.division_state = division.state
    row.member_name = division.member.display_name
    row.member_party = division.member.party
