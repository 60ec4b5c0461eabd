"""The syslog envelope of mail logs: time, host, program and message, in three styles.

    Dec 15 15:27:19 smtp sendmail[19936]: pBFERI8l019936: from=<bob@foo.com>, ...
    2024-08-26T01:33:38.572449+00:00 machine postfix/smtpd[60203]: NOQUEUE: reject: ...
    <22>1 2024-08-26T01:33:38.572449Z machine postfix/smtpd 60203 - - NOQUEUE: reject: ...

The classic (RFC 3164) style has no year and no zone. The day may be space-padded (`May  5`),
zero-padded (`Jun 04`) or unpadded (`Mar 7`); some relays insert `<facility.level>` before
the host. The year comes from the object's own time (S3 LastModified, the notification's
event time, a file's mtime), never from the clock: a line dated more than a day after that
time belongs to the year before (December lines in a January object), and one dated a year
(less a day) before it belongs to the year after (clock skew at New Year). Classic times are
UTC unless LOGFERRY_MAIL_TIMEZONE names an IANA zone; RFC 3339 and RFC 5424 carry their
offset. Every time leaves here as UTC ISO 8601 ending in `Z`, and a real one: a time that
does not exist (`23:95:02`, `02-30`, digits other than 0-9) rejects its line.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo

from ..model import ParseError
from .times import canonical, offset_minutes, to_utc

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# Program tag: `postfix/submission/smtpd[123]:`, `sendmail[1]:`, `postfix/qmgr:` (no pid).
_TAG = r"(?:<[\w.]+> )?(\S+) ([^\s\[\]:]+)(?:\[\d+\])?:(?: |$)(.*)"
# Digits are 0-9 only: `\d` would also take other scripts' digits, which no time is written in.
_CLOCK = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
_CLASSIC = re.compile(
    r"(?:<\d{1,3}>)?([A-Z][a-z]{2}) {1,2}([0-9]{1,2}) (" + _CLOCK + ") " + _TAG, re.DOTALL
)
_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T" + _CLOCK + r"(?:Z|[+-][0-9]{2}:?[0-9]{2})) " + _TAG, re.DOTALL
)
# <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG; SD is "-" or [..][..] with \] escapes.
_RFC5424 = re.compile(
    r"<\d{1,3}>1 (\S+) (\S+) (\S+) \S+ \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (.*))?$",
    re.DOTALL,
)

# An RFC 3339 time: (date and time to the second, fraction, offset).
_ISO_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})"
)

# (utc timestamp, host, program, message)
Envelope = tuple[str, str, str, str]


def utc_from_iso(value: str) -> str:
    """`2024-08-26T01:33:38.572449+02:00` -> `2024-08-25T23:33:38.572449Z` (fraction kept, to
    microseconds: a nanosecond time loses its last three digits); ParseError for anything else,
    a time that does not exist included."""
    m = _ISO_TIME.fullmatch(value)
    if m is None:
        raise ParseError(f"time: expected YYYY-MM-DDTHH:MM:SS[.f] and a zone, got {value[:40]!r}")
    seconds, fraction, offset = m[1], (m[2] or "")[:7], m[3]
    try:
        local = datetime.fromisoformat(seconds)
    except ValueError:
        raise ParseError(f"time: no such time {value[:40]!r}") from None
    if offset in ("Z", "+00:00", "-00:00", "+0000", "-0000"):
        return f"{seconds}{fraction}Z"
    minutes = offset_minutes(offset, "time")
    return canonical(to_utc(local, minutes, "time", value), fraction)


class SyslogClock:
    """Dates year-less `Mon DD` times against one object's own time (cached per day)."""

    def __init__(self, object_time: datetime, tz: tzinfo | None = None) -> None:
        self.tz = tz
        local = object_time.astimezone(tz or UTC)
        self.reference = local.date()
        self._days: dict[tuple[int, int], date] = {}

    def day(self, month: int, day: int) -> date:
        key = (month, day)
        found = self._days.get(key)
        if found is None:
            found = self._days[key] = self._infer(month, day)
        return found

    def _infer(self, month: int, day: int) -> date:
        ref = self.reference
        latest = ref + timedelta(days=1)  # tolerance for clocks slightly ahead
        year = ref.year + 1
        while True:  # the latest date on or before `latest`: Feb 29 walks back to a leap year
            try:
                candidate = date(year, month, day)
            except ValueError:
                if month == 2 and day == 29 and year > ref.year - 8:
                    year -= 1
                    continue
                raise ParseError(f"time: no such day {month:02d}-{day:02d}") from None
            if candidate <= latest:
                return candidate
            year -= 1

    def timestamp(self, month: int, day: int, clock: str) -> str:
        """UTC ISO 8601 for a classic `Mon DD HH:MM:SS[.fff]` time (fraction to microseconds)."""
        if clock[0:2] > "23" or clock[3:5] > "59" or clock[6:8] > "59":
            raise ParseError(f"time: no such time {clock!r}")
        clock = clock[:15]  # HH:MM:SS.ffffff
        when = self.day(month, day)
        if self.tz is None:
            return f"{when.isoformat()}T{clock}Z"
        fraction = clock[8:]
        local = datetime(
            when.year, when.month, when.day,
            int(clock[0:2]), int(clock[3:5]), int(clock[6:8]), tzinfo=self.tz,
        )  # fmt: skip
        try:
            moment = local.astimezone(UTC)
        except OverflowError:
            raise ParseError(f"time: {clock!r} is outside the years 1 to 9999 in UTC") from None
        return canonical(moment.replace(tzinfo=None), fraction)


def parse_envelope(line: str, clock: SyslogClock) -> Envelope:
    """(UTC timestamp, host, program, message) of a syslog line, or ParseError."""
    first = line[:1]
    if first.isalpha() or first == "<":  # "<PRI>" may precede a classic time
        m = _CLASSIC.match(line)
        if m is not None:
            month = MONTHS.get(m[1])
            if month is None:
                raise ParseError(f"syslog: unknown month {m[1]!r}")
            return clock.timestamp(month, int(m[2]), m[3]), m[4], m[5], m[6]
    elif first.isdecimal():
        m = _RFC3339.match(line)
        if m is not None:
            return utc_from_iso(m[1]), m[2], m[3], m[4]
    if first == "<":
        m = _RFC5424.match(line)
        if m is not None:
            if m[1] == "-":
                raise ParseError("syslog: RFC 5424 line without a timestamp")
            return utc_from_iso(m[1]), m[2], m[3], (m[4] or "").lstrip("\ufeff")
    raise ParseError("not a syslog line (expected 'Mon DD HH:MM:SS host program[pid]: ...')")


def looks_like_syslog(line: str) -> tuple[str, str] | None:
    """(host, program) when the line has a syslog envelope; used for content detection."""
    m = _CLASSIC.match(line) or _RFC3339.match(line)
    if m is not None:
        n = len(m.groups())
        return m[n - 2], m[n - 1]
    m = _RFC5424.match(line)
    return (m[2], m[3]) if m is not None else None
