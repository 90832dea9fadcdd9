"""Members' email addresses: the organiser's contacts file first, else the APH pattern."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CONTACT_COLUMNS = ("division", "email", "salutation", "office_address")


@dataclass(frozen=True)
class Contact:
    """Where to email a division's member, and how sure we are of it."""

    division: str
    email: str
    verified: bool
    salutation: str = ""
    office_address: str = ""


class ContactsFileError(ValueError):
    """The contacts file cannot be used; says which row and why."""


def derived_email(member_name: str) -> str:
    """The parliamentary pattern First.Last.MP@aph.gov.au (unverified: not every member fits)."""
    plain = unicodedata.normalize("NFKD", member_name).encode("ascii", "ignore").decode()
    parts = [re.sub(r"[^A-Za-z-]", "", part) for part in plain.split()]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return ""
    return f"{parts[0]}.{''.join(parts[1:])}.MP@aph.gov.au"


@lru_cache(maxsize=4)
def _read(path: Path, mtime_ns: int) -> dict[str, Contact]:
    contacts: dict[str, Contact] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(CONTACT_COLUMNS[:2]) - set(reader.fieldnames or ())
        if missing:
            raise ContactsFileError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for row_number, row in enumerate(reader, start=2):
            division = (row.get("division") or "").strip()
            email = (row.get("email") or "").strip()
            if not division and not email:
                continue
            if not division or "@" not in email:
                raise ContactsFileError(f"{path}, row {row_number}: needs a division and an email")
            contacts[division.casefold()] = Contact(
                division=division,
                email=email,
                verified=True,
                salutation=(row.get("salutation") or "").strip(),
                office_address=(row.get("office_address") or "").strip(),
            )
    return contacts


def load_contacts(path: Path) -> dict[str, Contact]:
    """The organiser's contacts by division (case-insensitive); empty when there is no file."""
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    return _read(path, mtime)


def contact_for(path: Path, division: str, member_name: str) -> Contact:
    """The contacts file's entry for a division, or the derived (unverified) address."""
    known = load_contacts(path).get(division.casefold())
    if known is not None:
        return known
    return Contact(division=division, email=derived_email(member_name), verified=False)
