"""LOGFERRY_INDEX_LAYOUT and LOGFERRY_REPLICAS: read once, every item checked, and the names a
layout gives (the router's own tests are in test_indices)."""

from __future__ import annotations

import pytest

from logferry.output.layout import (
    DEFAULT,
    IndexLayout,
    Period,
    SourceLayout,
    index_name,
    replica_count,
    source_kinds,
)
from logferry.provisioning.planner import plan


def test_the_issue_s_example_reads_as_written() -> None:
    layout = IndexLayout.parse("alb=day:6, vpcflow=day:2 ,nlb=month:1,")
    assert layout.of("alb") == SourceLayout(Period.DAY, 6)
    assert layout.of("vpcflow") == SourceLayout(Period.DAY, 2)
    assert layout.of("nlb") == SourceLayout(Period.MONTH, 1)
    assert layout.of("waf") == DEFAULT == SourceLayout(Period.DAY, 1)
    assert layout.named(Period.MONTH) == ["nlb"] and layout.named(Period.WEEK) == []
    assert layout.spec() == "alb=day:6,vpcflow=day:2,nlb=month:1"


def test_an_empty_setting_is_the_layout_before_there_was_one() -> None:
    assert IndexLayout.parse("") == IndexLayout.parse(" , ") == IndexLayout()
    assert IndexLayout().of("nlb") == DEFAULT


@pytest.mark.parametrize(
    "item",
    [
        "alb",
        "alb=day",
        "alb=6",
        "alb=:6",
        "=day:6",
        "alb=hour:6",
        "alb=Day:6",
        "alb=day:0",
        "alb=day:1025",
        "alb=day:-1",
        "alb=day:six",
        "alb=day:\u0663",  # an Arabic-Indic digit: decimal to Python, not to an operator
        "albb=day:1",  # no format writes it: a typo must not leave alb daily unnoticed
        "ALB=day:1",
        "mail=week:1",  # mail transactions are merged by the day
        "alb=day:1,alb=week:2",
    ],
)
def test_a_bad_item_fails_at_start_naming_the_setting_and_the_item(item: str) -> None:
    with pytest.raises(ValueError, match=r"^LOGFERRY_INDEX_LAYOUT: ") as refused:
        IndexLayout.parse(f"nlb=month:1,{item}")
    assert repr(item.split(",")[-1]) in str(refused.value)


def test_every_source_a_format_writes_may_be_named() -> None:
    kinds = source_kinds()
    assert {"alb", "alb-connection", "nlb", "vpcflow", "mail", "cloudtrail"} <= set(kinds)
    assert kinds["mail"] and not kinds["alb"]
    spec = ",".join(f"{name}=day:3" for name in kinds)
    assert IndexLayout.parse(spec).spec() == spec
    assert IndexLayout.parse("mail=day:4").of("mail") == SourceLayout(Period.DAY, 4)


def test_what_the_planner_prints_reads_back_as_its_plan() -> None:
    sizes = (0.2, 3, 40, 80, 200, 900)
    volumes = dict(zip(source_kinds(), sizes * 3, strict=False))
    proposal = plan(volumes)
    layout = IndexLayout.parse(proposal.index_layout)
    for name, source in proposal.sources.items():
        assert layout.of(name) == SourceLayout(Period(source.period), source.primary_shards)


def test_the_planner_keeps_merged_sources_daily() -> None:
    source = plan({"mail": 0.5}).sources["mail"]
    assert (source.period, source.primary_shards) == ("day", 1)
    IndexLayout.parse(plan({"mail": 0.5, "nlb": 0.5}).index_layout)


@pytest.mark.parametrize(
    ("period", "day", "suffix"),
    [
        (Period.DAY, "2026-12-02", "2026.12.02"),
        (Period.WEEK, "2026-12-02", "2026.w49"),
        (Period.WEEK, "2021-01-01", "2020.w53"),
        (Period.WEEK, "2024-12-30", "2025.w01"),
        (Period.MONTH, "2026-12-02T10:00:00Z", "2026.12"),
    ],
)
def test_index_names_by_period(period: Period, day: str, suffix: str) -> None:
    assert index_name("logs", "alb", day, period) == f"logs-alb-{suffix}"


def test_period_lengths_cover_the_longest_of_each() -> None:
    assert (Period.DAY.days, Period.WEEK.days, Period.MONTH.days) == (1, 7, 31)


def test_replicas() -> None:
    assert (replica_count(""), replica_count("0"), replica_count(" 2 ")) == (1, 0, 2)
    for bad in ("-1", "one", "1.5", "\u0661"):
        with pytest.raises(ValueError, match=r"^LOGFERRY_REPLICAS: "):
            replica_count(bad)


def test_a_layout_is_hashable_and_compares_by_its_items() -> None:
    assert hash(IndexLayout.parse("nlb=week:2")) == hash(IndexLayout.parse("nlb=week:2"))
    assert IndexLayout.parse("nlb=week:2") != IndexLayout.parse("nlb=week:3")
