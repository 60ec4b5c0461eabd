"""The one shape every `@timestamp` leaves a parser in, and the checks that get a time there.

Canonical: UTC, `YYYY-MM-DDTHH:MM:SS[.f]Z`, the fraction 1 to 6 digits, ASCII digits only, a
date that exists (year 1 to 9999). The daily index is named after the first ten characters, so
anything else (an ISO week date, an ordinal date, an offset, a space for the `T`, other scripts'
digits, February 30) would name an index of its own, or a wrong one. Formats that read times
on every line keep a cache of the ones seen lately and check here only on a miss; ELB's own
check (elb.is_iso_utc) is the same as `is_canonical_utc`, kept there for its compiled hot path.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from ..model import ParseError

_CANONICAL = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z"
).fullmatch


def is_real_date(ymd: str) -> bool:
    """Whether `YYYY-MM-DD` (already of that shape) names a day of the calendar."""
    try:
        date.fromisoformat(ymd)
    except ValueError:
        return False
    return True


def is_canonical_utc(value: str) -> bool:
    """Whether `value` is a canonical UTC time (see the module docstring)."""
    if _CANONICAL(value) is None:
        return False
    # The pattern lets 02-30, 04-31 and year 0000 through: the calendar decides those.
    return not (value[8:10] >= "29" or value[0] == "0") or is_real_date(value[:10])


def canonical(moment: datetime, fraction: str = "") -> str:
    """A naive UTC datetime as canonical text, to the second, then `fraction` (`.f`, at most
    six digits) as the source wrote it. isoformat, not strftime: `%Y` is not zero-padded on
    glibc (year 999 would read `999-...`)."""
    return moment.isoformat(timespec="seconds") + fraction + "Z"


def to_utc(local: datetime, offset_minutes: int, field: str, value: str) -> datetime:
    """A naive local time at `offset_minutes` east of UTC, as naive UTC; ParseError when the
    shift leaves the years 1 to 9999."""
    try:
        return local - timedelta(minutes=offset_minutes)
    except OverflowError:
        raise ParseError(f"{field}: {value[:40]!r} is outside the years 1 to 9999 in UTC") from None


def offset_minutes(offset: str, field: str) -> int:
    """Minutes east of UTC of `Z`, `+HH`, `+HHMM` or `+HH:MM` (sign `+` or `-`), or ParseError."""
    if offset == "Z":
        return 0
    digits = offset[1:].replace(":", "", 1)
    if (
        offset[0] not in "+-"
        or len(digits) not in (2, 4)
        or not (digits.isascii() and digits.isdecimal())
    ):
        raise ParseError(f"{field}: expected a zone Z or +HH:MM, got {offset[:12]!r}")
    hours, minutes = int(digits[:2]), int(digits[2:] or "0")
    if hours > 23 or minutes > 59:
        raise ParseError(f"{field}: no such offset {offset!r}")
    total = hours * 60 + minutes
    return -total if offset[0] == "-" else total
