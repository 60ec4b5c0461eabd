"""Which index a document goes to: `<prefix>-<source>-YYYY.MM.DD`, `-YYYY.wWW` or `-YYYY.MM` by
the entry's own UTC day and its source's period (logferry.output.layout; daily by default).

The index stays a pure function of the entry (so a redelivered object overwrites what it wrote
before), but what an object may ask of the cluster is bounded, because one forged object could
otherwise create an index per line:
- the event day must lie in the accepted window (`LOGFERRY_ACCEPT_DAYS_BACK` before today, by
  default the retention period plus a margin, to `LOGFERRY_ACCEPT_DAYS_AHEAD` after it);
- one object writes at most `LOGFERRY_MAX_INDICES_PER_OBJECT` distinct indices (indices, not
  days: with weekly indices, seven days of one object are one index);
- every name is checked as OpenSearch would check it before any request carries it.
An entry that fails one of these is a line rejection (kept for replay: a deliberate backfill of
old logs widens the window and replays them), never a 400 from the cluster.

Rejected alternative: clamping out-of-window times to today. The document would lie about when
it happened, and its index would no longer follow from its own time.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..formats.times import is_canonical_utc
from .layout import IndexLayout, Period, index_name

__all__ = ["IndexRouter", "Window", "index_name", "index_name_problem", "time_problem"]

OUTSIDE_WINDOW = "event time outside the accepted window"
# Characters OpenSearch refuses in an index name (besides upper case), and its length limit.
_INVALID_NAME_CHARS = frozenset('\\/*?"<>| ,#:')
MAX_INDEX_NAME_BYTES = 255
# Refused days remembered per object, so a hostile object pays the date check once a day.
_REFUSED_KEPT = 4096


def index_name_problem(name: str) -> str | None:
    """Why OpenSearch would refuse `name` as an index name, or None."""
    if not name or name != name.lower():
        return f"index name {name[:80]!r} must be lower case"
    if name[0] in "-_+" or name in (".", ".."):
        return f"index name {name[:80]!r} must not start with '-', '_' or '+'"
    if not _INVALID_NAME_CHARS.isdisjoint(name):
        return f"index name {name[:80]!r} contains a character OpenSearch refuses"
    if len(name.encode()) > MAX_INDEX_NAME_BYTES:
        return f"index name is longer than {MAX_INDEX_NAME_BYTES} bytes"
    return None


class Window:
    """The event days an entry may have: from `first` to `last`, inclusive (YYYY-MM-DD)."""

    def __init__(self, today: date, days_back: int, days_ahead: int) -> None:
        self.first = (today - timedelta(days=days_back)).isoformat()
        self.last = (today + timedelta(days=days_ahead)).isoformat()

    def refusal(self, day: str) -> str | None:
        """Why entries of `day` (a real YYYY-MM-DD) are not indexed, or None."""
        if not self.first <= day <= self.last:
            return f"{OUTSIDE_WINDOW} ({self.first} to {self.last}): {day}"
        return None


def time_problem(timestamp: str) -> str | None:
    """Why `timestamp` is no canonical UTC time of a real day, or None: the rule the parsers
    keep (formats.times). The first entry of each day is checked in full; the entries after it
    need only their day looked up."""
    if not is_canonical_utc(timestamp):
        return f"@timestamp is not a UTC time YYYY-MM-DDTHH:MM:SS[.f]Z: {timestamp[:40]!r}"
    return None


class IndexRouter:
    """Index names for the entries of one object, each day checked once.

    `days` holds the accepted days (YYYY-MM-DD -> index name): the loops of the pipeline look
    an entry's day up there first and call `route` only when it is missing. With weekly or
    monthly indices, the days of one period map to the same name, looked up just the same.
    `layout` gives the source's period (default: daily for every source); `dated=False` names
    one index per source.
    """

    def __init__(
        self,
        prefix: str,
        source: str,
        window: Window,
        max_indices: int,
        *,
        layout: IndexLayout | None = None,
        dated: bool = True,
    ) -> None:
        self.prefix = prefix
        self.source = source
        self.window = window
        self.max_indices = max_indices
        self.period = layout.period(source) if layout is not None else Period.DAY
        # False: one index per source, `<prefix>-<source>`, for a store that manages retention
        # itself (an OpenSearch Serverless collection's lifecycle policy); the window still holds.
        self.dated = dated
        self.days: dict[str, str] = {}
        self._indices: set[str] = set()  # the distinct names in `days`
        self._refused: dict[str, str] = {}

    def route(self, timestamp: object) -> tuple[str | None, str]:
        """(index, "") for an entry of this @timestamp, or (None, why it is refused)."""
        if not isinstance(timestamp, str) or len(timestamp) < 10:
            return None, NO_TIMESTAMP
        day = timestamp[:10]
        index = self.days.get(day)
        if index is not None:
            return index, ""
        refused = time_problem(timestamp) or self._refused.get(day)
        if refused is not None:
            return None, refused
        refused = self.window.refusal(day)
        index = (
            index_name(self.prefix, self.source, day, self.period)
            if self.dated
            else f"{self.prefix}-{self.source}"
        )
        if refused is None and index not in self._indices:
            if len(self._indices) >= self.max_indices:
                refused = (
                    f"object writes more than {self.max_indices} indices"
                    " (LOGFERRY_MAX_INDICES_PER_OBJECT)"
                )
            else:
                refused = index_name_problem(index)
        if refused is not None:
            if len(self._refused) < _REFUSED_KEPT:
                self._refused[day] = refused
            return None, refused
        self.days[day] = index
        self._indices.add(index)
        return index, ""


NO_TIMESTAMP = "document without a valid @timestamp"
