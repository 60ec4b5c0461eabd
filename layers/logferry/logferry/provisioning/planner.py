"""Sizing a domain (`logferry plan`): each source's index period and primary shards, so that
shards hold 10 to 50 GB in as few indices as will do, and what that costs the domain in shards
and storage over the retention period. Pure arithmetic: nothing is asked of a cluster.

The layout it proposes is the LOGFERRY_INDEX_LAYOUT value (logferry.output.layout), written by
that module, so what it prints reads back as the plan. Sources whose documents are merged across
days (mail) are planned by the day, the only period the layout allows them. Names no format
writes are planned all the same (a what-if) and named in the table as refused by the setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..output.layout import IndexLayout, Period, SourceLayout, source_kinds

# Shard sizes to aim for (GB of primary data): below the floor, shards are too many for their
# data (each costs heap and cluster state); above the ceiling, they recover and move slowly.
SHARD_GB_MIN = 10.0
SHARD_GB_MAX = 50.0
# More primaries than this in one index: a shorter period is taken instead (smaller indices,
# retention deleting in smaller steps). A source too big for that even by the day gets daily
# indices with as many primaries as its day needs.
MAX_PRIMARY_SHARDS = 10
# Longest first. A month counts as 31 days, so no month's shards outgrow SHARD_GB_MAX.
PERIODS = tuple((period.value, period.days) for period in (Period.MONTH, Period.WEEK, Period.DAY))
PERIOD_DAYS = dict(PERIODS)


@dataclass(frozen=True)
class SourcePlan:
    gb_per_day: float
    period: str  # "day", "week" or "month"
    primary_shards: int
    shard_gb: float  # primary data per shard of a full index
    indices: int  # indices alive at once over the retention period
    shards: int  # primaries x (1 + replicas) x indices


@dataclass(frozen=True)
class Plan:
    sources: dict[str, SourcePlan]
    retention_days: int
    nodes: int
    replicas: int
    shards_per_node_limit: int
    total_shards: int
    storage_gb: float
    unknown: tuple[str, ...] = ()  # sources no format writes: LOGFERRY_INDEX_LAYOUT refuses them

    @property
    def shard_limit(self) -> int:
        return self.nodes * self.shards_per_node_limit

    @property
    def fits(self) -> bool:
        return self.total_shards <= self.shard_limit

    @property
    def index_layout(self) -> str:
        """The LOGFERRY_INDEX_LAYOUT value: source=period:primaries,..."""
        return IndexLayout(
            tuple(
                (name, SourceLayout(Period(source.period), source.primary_shards))
                for name, source in self.sources.items()
            )
        ).spec()

    def as_json(self) -> dict[str, object]:
        return {
            "sources": {
                name: {
                    "period": source.period,
                    "primary_shards": source.primary_shards,
                    "shard_gb": source.shard_gb,
                }
                for name, source in self.sources.items()
            },
            "total_shards": self.total_shards,
            "storage_gb": self.storage_gb,
            "index_layout": self.index_layout,
        }

    def text(self) -> str:
        rows = [
            f"{'source':<16} {'GB/day':>9}  {'period':<6} {'primaries':>9} {'shard GB':>9}"
            f" {'indices':>8} {'shards':>8}"
        ]
        for name, source in self.sources.items():
            rows.append(
                f"{name:<16} {source.gb_per_day:>9g}  {source.period:<6}"
                f" {source.primary_shards:>9} {source.shard_gb:>9g} {source.indices:>8}"
                f" {source.shards:>8}"
            )
        copies = "replica" if self.replicas == 1 else "replicas"
        verdict = "within" if self.fits else "OVER"
        rows += [
            "",
            f"shards over {self.retention_days} days: {self.total_shards} ({verdict} the limit of"
            f" {self.shard_limit}: {self.nodes} nodes x {self.shards_per_node_limit})",
            f"storage with {self.replicas} {copies}: {self.storage_gb:g} GB",
        ]
        if self.unknown:
            rows.append(
                f"no format writes {', '.join(self.unknown)}: LOGFERRY_INDEX_LAYOUT refuses it"
            )
        rows.append(f"LOGFERRY_INDEX_LAYOUT={self.index_layout}")
        return "\n".join(rows)


def _source(gb_per_day: float, retention_days: int, replicas: int, daily: bool) -> SourcePlan:
    """`daily`: the source takes daily indices only (its documents are merged across days)."""
    by_the_day = ("day", max(1, math.ceil(gb_per_day / SHARD_GB_MAX)))
    period, primaries = "month", 1  # tiny: one shard a month, even below SHARD_GB_MIN
    for name, days in PERIODS:
        needed = max(1, math.ceil(gb_per_day * days / SHARD_GB_MAX))
        if needed <= MAX_PRIMARY_SHARDS and gb_per_day * days / needed >= SHARD_GB_MIN:
            period, primaries = name, needed
            break
    else:
        if gb_per_day * PERIOD_DAYS["day"] > SHARD_GB_MAX * MAX_PRIMARY_SHARDS:  # huge
            period, primaries = by_the_day
    if daily:
        period, primaries = by_the_day
    days = PERIOD_DAYS[period]
    # A daily index is deleted retention_days after its creation, a weekly or monthly one
    # retention_days + its period's days after (provisioning.retention): ceil(retention / days)
    # created over the retention period and the one still filling, or whose time is not yet up.
    indices = math.ceil(retention_days / days) + 1
    return SourcePlan(
        gb_per_day=gb_per_day,
        period=period,
        primary_shards=primaries,
        shard_gb=round(gb_per_day * days / primaries, 1),
        indices=indices,
        shards=primaries * (1 + replicas) * indices,
    )


def plan(
    gb_per_day: dict[str, float],
    retention_days: int = 90,
    nodes: int = 3,
    replicas: int = 1,
    shards_per_node_limit: int = 1000,
) -> Plan:
    """Each source's index period and primaries (`gb_per_day`: source -> GB of primary data a
    day), the shards alive over the retention period and the storage they take with replicas."""
    if not gb_per_day:
        raise ValueError("no sources")
    for name, value in (
        ("retention_days", retention_days),
        ("nodes", nodes),
        ("shards_per_node_limit", shards_per_node_limit),
    ):
        if value < 1:
            raise ValueError(f"{name}: expected a positive number, got {value}")
    if replicas < 0:
        raise ValueError(f"replicas: expected 0 or more, got {replicas}")
    for name, gb in gb_per_day.items():
        if not math.isfinite(gb) or gb < 0:
            raise ValueError(f"{name}: expected GB a day, 0 or more, got {gb}")
    kinds = source_kinds()
    sources = {
        name: _source(gb, retention_days, replicas, kinds.get(name, False))
        for name, gb in gb_per_day.items()
    }
    return Plan(
        sources=sources,
        retention_days=retention_days,
        nodes=nodes,
        replicas=replicas,
        shards_per_node_limit=shards_per_node_limit,
        total_shards=sum(source.shards for source in sources.values()),
        storage_gb=round(sum(gb_per_day.values()) * retention_days * (1 + replicas), 1),
        unknown=tuple(name for name in gb_per_day if name not in kinds),
    )
