"""How each source's indices are cut: the index period and the primary shards
(`LOGFERRY_INDEX_LAYOUT="alb=day:6,vpcflow=week:2,nlb=month:1"`), and the replica count
(`LOGFERRY_REPLICAS`, default 1).

Names, from the entry's own UTC day and nothing else:
- day:   `<prefix>-<source>-YYYY.MM.DD`
- week:  `<prefix>-<source>-YYYY.wWW`, the ISO 8601 week and its own year (2026-12-31 and
         2027-01-01 both fall in `2026.w53`), so a week is one index even across New Year;
- month: `<prefix>-<source>-YYYY.MM`.
A source the layout does not name keeps daily indices of one primary (what every source had
before the layout existed), so an empty layout changes nothing.

Invariants:
- The index of an entry is a pure function of (prefix, source, period, its event day): an
  object delivered twice, or replayed, writes the same index again and its `_id`s overwrite.
- A shard count applies to the indices created after it was set (index templates act at
  creation); existing indices are never renamed nor resharded.
- A source whose documents are merged across days (mail transactions, `LogFormat.merges`:
  logferry.mail.merger looks a transaction up in the daily index of each day of the queue
  lifetime) takes daily indices only; its shard count is free.
- Every item of the setting is checked at start: an unknown source, period or a shard count
  outside 1..1024 fails with a ValueError naming the setting and the item.

Changing a source's period moves its entries to other names from then on. Entries of an object
ingested before the change and ingested again after it land in the new index beside their first
copy: change a period at the start of a period of the new kind and do not re-ingest older
objects (docs/deploy.md).

Rejected alternatives:
- Rollover (ISM `rollover` on a write alias) or data streams: the index an entry lands in would
  depend on when it was ingested, not on when it happened, so a redelivered object could land in
  another index than its first copy and duplicate every entry. Deterministic `_id`s only
  deduplicate within one index.
- A period picked from the cluster (looking up which indices exist): the name would depend on
  the cluster's state, and one lookup per object costs a request in the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

SETTING = "LOGFERRY_INDEX_LAYOUT"
REPLICAS_SETTING = "LOGFERRY_REPLICAS"
# OpenSearch's own bounds on index.number_of_shards.
MAX_PRIMARY_SHARDS = 1024
# A source name as it appears in index names: lower case, digits, '-' and '_', not leading.
_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


class Period(Enum):
    """How much time one index holds. `days` is the longest such period (a month counts 31):
    the retention policy adds it to the delete age, the planner divides by it."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def days(self) -> int:
        return _PERIOD_DAYS[self]

    def suffix(self, day: str) -> str:
        """The date part of the index name for `day` (YYYY-MM-DD, a real day, or a longer ISO
        time starting with one)."""
        if self is Period.DAY:
            return f"{day[0:4]}.{day[5:7]}.{day[8:10]}"
        if self is Period.MONTH:
            return f"{day[0:4]}.{day[5:7]}"
        year, week, _ = date.fromisoformat(day[:10]).isocalendar()
        return f"{year:04d}.w{week:02d}"


_PERIOD_DAYS = {Period.DAY: 1, Period.WEEK: 7, Period.MONTH: 31}


@dataclass(frozen=True)
class SourceLayout:
    period: Period = Period.DAY
    primary_shards: int = 1


DEFAULT = SourceLayout()


@dataclass(frozen=True)
class IndexLayout:
    """Each named source's period and primaries, in the order of the setting; the sources not
    named get DEFAULT. Hashable, as the Settings holding it."""

    sources: tuple[tuple[str, SourceLayout], ...] = ()
    _by_source: dict[str, SourceLayout] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._by_source.update(self.sources)

    def of(self, source: str) -> SourceLayout:
        return self._by_source.get(source, DEFAULT)

    def period(self, source: str) -> Period:
        return self.of(source).period

    def named(self, period: Period) -> list[str]:
        """The sources the layout gives `period`, in the order of the setting."""
        return [name for name, layout in self.sources if layout.period is period]

    def spec(self) -> str:
        """The setting's value: `source=period:primaries,...` (what `parse` reads back)."""
        return ",".join(
            f"{name}={layout.period.value}:{layout.primary_shards}" for name, layout in self.sources
        )

    @classmethod
    def parse(cls, spec: str, known: Mapping[str, bool] | None = None) -> IndexLayout:
        """LOGFERRY_INDEX_LAYOUT as a layout. `known`: source -> whether its documents are
        merged across days (default: the sources of the format registry)."""
        items = [item.strip() for item in spec.split(",") if item.strip()]
        if not items:
            return cls()
        known = source_kinds() if known is None else known
        sources: dict[str, SourceLayout] = {}
        for item in items:
            name, layout = _item(item, known)
            if name in sources:
                raise ValueError(f"{SETTING}: {name} given twice, got {item!r}")
            sources[name] = layout
        return cls(tuple(sources.items()))


def _item(item: str, known: Mapping[str, bool]) -> tuple[str, SourceLayout]:
    def refused(why: str) -> ValueError:
        return ValueError(f"{SETTING}: {why}, got {item!r}")

    name, sep, rest = (part.strip() for part in item.partition("="))
    period_text, colon, shards_text = (part.strip() for part in rest.partition(":"))
    if not sep or not colon or not _SOURCE_NAME.fullmatch(name):
        raise refused("expected source=period:primaries (e.g. alb=day:6)")
    if name not in known:
        raise refused(f"unknown source {name!r} (known: {', '.join(sorted(known))})")
    try:
        period = Period(period_text)
    except ValueError:
        raise refused("expected a period of day, week or month") from None
    if not _whole(shards_text) or not 1 <= int(shards_text) <= MAX_PRIMARY_SHARDS:
        raise refused(f"expected 1 to {MAX_PRIMARY_SHARDS} primary shards")
    if known[name] and period is not Period.DAY:
        raise refused(
            f"{name} documents are merged across days (logferry.mail.merger): day periods only"
        )
    return name, SourceLayout(period, int(shards_text))


def source_kinds() -> dict[str, bool]:
    """Every source a format writes (`LogFormat.index_source`) -> whether its documents are
    merged across days. The registry is imported here, when a layout is named, not before."""
    from ..formats import FORMATS

    kinds: dict[str, bool] = {}
    for fmt in FORMATS.values():
        kinds[fmt.index_source] = kinds.get(fmt.index_source, False) or fmt.merges
    return kinds


def replica_count(value: str) -> int:
    """LOGFERRY_REPLICAS: replicas of every primary (0 or more; empty: 1)."""
    text = value.strip()
    if not text:
        return 1
    if not _whole(text):
        raise ValueError(f"{REPLICAS_SETTING}: expected 0 or more, got {value!r}")
    return int(text)


def _whole(text: str) -> bool:
    return text.isascii() and text.isdecimal()


def index_name(prefix: str, source: str, day: str, period: Period = Period.DAY) -> str:
    """The index of `source` holding `day` (YYYY-MM-DD, or a longer ISO time starting with it)."""
    return f"{prefix}-{source}-{period.suffix(day)}"
