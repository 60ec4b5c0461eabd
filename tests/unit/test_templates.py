"""The index templates a layout asks for (applied to the real cluster by tests/multinode): the
catch-all as before, one per named source with its primaries, and priorities that let the
longer of two overlapping source patterns win."""

from __future__ import annotations

from typing import Any

from logferry.output.layout import IndexLayout
from logferry.provisioning import index_template, layout_templates


def settings_of(body: dict[str, Any]) -> tuple[Any, ...]:
    index = body["template"]["settings"]["index"]
    return (
        body["index_patterns"],
        body["priority"],
        index["number_of_shards"],
        index["number_of_replicas"],
    )


def test_without_a_layout_there_is_the_catch_all_alone() -> None:
    templates = layout_templates("logs", IndexLayout(), replicas=1)
    assert list(templates) == ["logs-logferry"]
    assert settings_of(templates["logs-logferry"]) == (["logs-*"], 100, 1, 1)
    assert templates["logs-logferry"] == index_template("logs")


def test_each_named_source_gets_its_primaries_and_the_replicas() -> None:
    layout = IndexLayout.parse("alb=week:6,alb-connection=day:2,nlb=month:1")
    templates = layout_templates("logs", layout, replicas=2)
    assert {name: settings_of(body) for name, body in templates.items()} == {
        "logs-logferry": (["logs-*"], 100, 1, 2),
        "logs-logferry-alb": (["logs-alb-*"], 103, 6, 2),
        "logs-logferry-alb-connection": (["logs-alb-connection-*"], 114, 2, 2),
        "logs-logferry-nlb": (["logs-nlb-*"], 103, 1, 2),
    }
    # the same mappings everywhere
    mappings = {str(body["template"]["mappings"]) for body in templates.values()}
    assert len(mappings) == 1
    assert templates["logs-logferry-nlb"]["_meta"] == {
        "managed_by": "logferry",
        "prefix": "logs",
        "source": "nlb",
    }


def test_a_source_under_a_named_one_s_pattern_keeps_the_catch_all_s_primaries() -> None:
    # logs-alb-* matches logs-alb-connection-2026.12.02: alb-connection, not named, gets a
    # template of its own (higher than alb's) with one primary
    templates = layout_templates("logs", IndexLayout.parse("alb=week:6"), replicas=1)
    assert {name: settings_of(body) for name, body in templates.items()} == {
        "logs-logferry": (["logs-*"], 100, 1, 1),
        "logs-logferry-alb": (["logs-alb-*"], 103, 6, 1),
        "logs-logferry-alb-connection": (["logs-alb-connection-*"], 114, 1, 1),
    }
