"""The one "now": every time the code reads comes from here, so tests and rehearsals can set it.

No Flask and no database: the domain, the services, the tasks and the CLI all ask `now()`.
Normally it is the machine's clock in UTC. Two things can change that, for this process only:

- `frozen(at)` / `freeze(at)`: the time stands still at `at` (tests, `letters housekeeping
  --now`), until `unfreeze()`;
- an offset (`set_offset`, from LETTERS_CLOCK_OFFSET_SECONDS): the clock runs normally but ahead or
  behind, so that processes a test starts (workers, the web server) can live on a calendar of
  the test's choosing. Production refuses an offset (letters/settings.py).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

_frozen: dt.datetime | None = None
_offset = dt.timedelta(0)


def now() -> dt.datetime:
    """The current moment, an aware UTC datetime."""
    if _frozen is not None:
        return _frozen
    return dt.datetime.now(dt.UTC) + _offset


def timestamp() -> float:
    """now() as Unix seconds, where code compares with time.time()-style numbers."""
    if _frozen is None and not _offset:
        return time.time()
    return now().timestamp()


def today(zone: str | dt.tzinfo) -> dt.date:
    """The calendar day it is now in a time zone (letters are dated as the writer's calendar)."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    return now().astimezone(tz).date()


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("give the clock an aware datetime (with a time zone)")
    return moment.astimezone(dt.UTC)


def freeze(moment: dt.datetime) -> None:
    """Stop the clock at `moment` until unfreeze()."""
    global _frozen
    _frozen = _aware(moment)


def unfreeze() -> None:
    """Let the clock run again (with its offset, if any)."""
    global _frozen
    _frozen = None


def advance(delta: dt.timedelta) -> dt.datetime:
    """Move a frozen clock on by `delta` (a running one has its offset moved); the new now."""
    global _frozen, _offset
    if _frozen is not None:
        _frozen += delta
    else:
        _offset += delta
    return now()


@contextmanager
def frozen(moment: dt.datetime) -> Iterator[None]:
    """The clock stands at `moment` inside the block, and is as it was afterwards."""
    global _frozen
    before = _frozen
    freeze(moment)
    try:
        yield
    finally:
        _frozen = before


def set_offset(seconds: float) -> None:
    """Run this process's clock `seconds` ahead of the machine's (negative: behind)."""
    global _offset
    _offset = dt.timedelta(seconds=seconds)


def offset_seconds() -> float:
    """How far this process's running clock is from the machine's."""
    return _offset.total_seconds()
