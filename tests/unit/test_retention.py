"""The retention policies' shape (ISM is not installable here): hot until deleted by default;
with tiers, hot -> warm (UltraWarm) -> cold (cold storage) -> delete by index age; weekly and
monthly indices, each kind by its own policy, every age later by their period's days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from logferry.config import Settings
from logferry.output.layout import IndexLayout, Period, index_name
from logferry.provisioning import layout_policies, retention_policy

# The policy as it was before tiers: without them it must not change (a changed policy is
# rewritten on every domain at the next `logferry setup`).
UNTIERED = {
    "policy": {
        "description": "logferry: delete logs-* indices 90 days after creation",
        "default_state": "hot",
        "states": [
            {
                "name": "hot",
                "actions": [],
                "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "90d"}}],
            },
            {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
        ],
        "ism_template": [{"index_patterns": ["logs-*"], "priority": 100}],
    }
}


def path(policy: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(state, next state, its min_index_age) along the policy, from its default state."""
    states = {state["name"]: state for state in policy["policy"]["states"]}
    steps, name = [], policy["policy"]["default_state"]
    while states[name]["transitions"]:
        [transition] = states[name]["transitions"]
        steps.append((name, transition["state_name"], transition["conditions"]["min_index_age"]))
        name = transition["state_name"]
    assert name == "delete"
    return steps


def actions(policy: dict[str, Any], state: str) -> list[str]:
    [found] = [s for s in policy["policy"]["states"] if s["name"] == state]
    return [key for action in found["actions"] for key in action if key not in ("retry", "timeout")]


def test_without_tiers_the_policy_is_unchanged() -> None:
    assert retention_policy("logs", 90) == UNTIERED
    settings = Settings.from_env({})
    assert (settings.warm_after_days, settings.cold_after_days) == (None, None)
    assert retention_policy("logs", 90, settings.warm_after_days, settings.cold_after_days) == (
        UNTIERED
    )


def test_warm_and_cold_come_in_order_before_the_delete() -> None:
    policy = retention_policy("logs", 365, 7, 30)
    assert path(policy) == [
        ("hot", "warm", "7d"),
        ("warm", "cold", "30d"),
        ("cold", "delete", "365d"),
    ]
    assert actions(policy, "hot") == []
    assert actions(policy, "warm") == ["warm_migration"]
    assert actions(policy, "cold") == ["cold_migration"]
    # cold indices are detached from the cluster: only cold_delete removes them
    assert actions(policy, "delete") == ["cold_delete"]
    [cold] = [s for s in policy["policy"]["states"] if s["name"] == "cold"]
    assert cold["actions"][0]["cold_migration"] == {"timestamp_field": "@timestamp"}
    assert policy["policy"]["ism_template"] == UNTIERED["policy"]["ism_template"]
    assert "UltraWarm after 7 days" in policy["policy"]["description"]


def test_warm_alone() -> None:
    policy = retention_policy("logs", 90, 14)
    assert path(policy) == [("hot", "warm", "14d"), ("warm", "delete", "90d")]
    assert actions(policy, "warm") == ["warm_migration"]
    assert actions(policy, "delete") == ["delete"]


def test_cold_alone_goes_through_ultrawarm() -> None:
    # cold storage takes indices from UltraWarm only
    policy = retention_policy("logs", 90, None, 30)
    assert path(policy) == [("hot", "cold", "30d"), ("cold", "delete", "90d")]
    assert actions(policy, "cold") == ["warm_migration", "cold_migration"]
    assert actions(policy, "delete") == ["cold_delete"]


@pytest.mark.parametrize(("warm", "cold"), [(0, None), (30, 30), (40, 30), (None, 90), (90, None)])
def test_tiers_out_of_order_are_refused(warm: int | None, cold: int | None) -> None:
    with pytest.raises(ValueError, match="retention tiers"):
        retention_policy("logs", 90, warm, cold)


def test_settings_read_the_tiers() -> None:
    env = {"LOGFERRY_WARM_AFTER_DAYS": "7", "LOGFERRY_COLD_AFTER_DAYS": "30"}
    settings = Settings.from_env(env)
    assert (settings.warm_after_days, settings.cold_after_days) == (7, 30)
    settings = Settings.from_env({"LOGFERRY_COLD_AFTER_DAYS": "30"})
    assert (settings.warm_after_days, settings.cold_after_days) == (None, 30)
    assert Settings.from_env({"LOGFERRY_WARM_AFTER_DAYS": ""}).warm_after_days is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LOGFERRY_WARM_AFTER_DAYS": "0"}, "LOGFERRY_WARM_AFTER_DAYS"),
        ({"LOGFERRY_WARM_AFTER_DAYS": "-3"}, "LOGFERRY_WARM_AFTER_DAYS"),
        ({"LOGFERRY_WARM_AFTER_DAYS": "7d"}, "LOGFERRY_WARM_AFTER_DAYS"),
        ({"LOGFERRY_COLD_AFTER_DAYS": "0"}, "LOGFERRY_COLD_AFTER_DAYS"),
        ({"LOGFERRY_WARM_AFTER_DAYS": "90"}, "LOGFERRY_WARM_AFTER_DAYS"),
        ({"LOGFERRY_COLD_AFTER_DAYS": "120"}, "LOGFERRY_COLD_AFTER_DAYS"),
        (
            {"LOGFERRY_WARM_AFTER_DAYS": "30", "LOGFERRY_COLD_AFTER_DAYS": "30"},
            "LOGFERRY_COLD_AFTER_DAYS",
        ),
        (
            {"LOGFERRY_WARM_AFTER_DAYS": "40", "LOGFERRY_COLD_AFTER_DAYS": "30"},
            "LOGFERRY_COLD_AFTER_DAYS",
        ),
        (
            {"LOGFERRY_RETENTION_DAYS": "20", "LOGFERRY_WARM_AFTER_DAYS": "30"},
            "LOGFERRY_WARM_AFTER_DAYS",
        ),
    ],
)
def test_bad_tiers_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=f"^{named}:"):
        Settings.from_env(env)


def test_setup_applies_the_tiers_of_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from logferry import provisioning

    applied: list[dict[str, Any]] = []
    monkeypatch.setattr(provisioning, "installed_plugins", lambda client: {provisioning.ISM_PLUGIN})
    monkeypatch.setattr(
        provisioning, "apply_policy", lambda client, name, body: applied.append(body) or "ok"
    )
    monkeypatch.setattr(provisioning.monitors, "apply", lambda *args: [])
    monkeypatch.setattr(provisioning.dashboards, "apply", lambda *args: [])
    monkeypatch.setattr(provisioning, "apply_templates", lambda *args: [])
    client = SimpleNamespace()
    env = {"LOGFERRY_WARM_AFTER_DAYS": "7", "LOGFERRY_COLD_AFTER_DAYS": "30"}
    provisioning.apply(client, Settings.from_env(env), with_roles=False)
    provisioning.apply(client, Settings.from_env({}), with_roles=False)
    daily = [body for body in applied if "ism_template" in body["policy"]]
    assert daily == [retention_policy("logs", 90, 7, 30), UNTIERED]
    # and the weekly and monthly policies, attached to no index (no source has those periods)
    assert len(applied) == 6


# -- periods ---------------------------------------------------------------------------------

LAYOUT = IndexLayout.parse("alb=week:4,vpcflow=month:2,nlb=day:3")


def claims(policy: dict[str, Any]) -> list[tuple[list[str], int]]:
    return [(t["index_patterns"], t["priority"]) for t in policy["policy"].get("ism_template", [])]


def test_without_a_weekly_or_monthly_source_the_daily_policy_is_unchanged() -> None:
    for layout in (IndexLayout(), IndexLayout.parse("nlb=day:3,alb=day:6")):
        policies = layout_policies("logs", 90, None, None, layout)
        assert policies["logs-retention"] == UNTIERED
        assert claims(policies["logs-retention-week"]) == []
        assert claims(policies["logs-retention-month"]) == []


def test_each_period_kind_has_its_policy_and_its_sources() -> None:
    policies = layout_policies("logs", 90, None, None, LAYOUT)
    assert path(policies["logs-retention"]) == [("hot", "delete", "90d")]
    assert path(policies["logs-retention-week"]) == [("hot", "delete", "97d")]
    assert path(policies["logs-retention-month"]) == [("hot", "delete", "121d")]
    assert claims(policies["logs-retention-week"]) == [(["logs-alb-*"], 103)]
    assert claims(policies["logs-retention-month"]) == [(["logs-vpcflow-*"], 107)]
    # logs-alb-* also matches the daily alb-connection indices: the daily policy claims them
    # back, higher (ISM attaches the policy of the highest priority that matches)
    assert claims(policies["logs-retention"]) == [
        (["logs-*"], 100),
        (["logs-alb-connection-*"], 114),
    ]
    month = policies["logs-retention-month"]["policy"]["description"]
    assert month == (
        "logferry: delete logs monthly indices 121 days after creation (90 after their last day)"
    )


def test_tiers_of_a_period_index_move_later_by_its_period() -> None:
    policies = layout_policies("logs", 365, 7, 30, LAYOUT)
    assert path(policies["logs-retention-week"]) == [
        ("hot", "warm", "14d"),
        ("warm", "cold", "37d"),
        ("cold", "delete", "372d"),
    ]
    assert path(policies["logs-retention-month"])[0] == ("hot", "warm", "38d")


def highest(policies: dict[str, dict[str, Any]], index: str) -> str:
    """The policy ISM attaches to a new index: the ism_template of the highest priority among
    those with a matching pattern (patterns with `*` only)."""
    import fnmatch

    matches = [
        (template["priority"], name)
        for name, body in policies.items()
        for template in body["policy"].get("ism_template", [])
        if any(fnmatch.fnmatchcase(index, p) for p in template["index_patterns"])
    ]
    return max(matches)[1]


@pytest.mark.parametrize(
    ("source", "policy"),
    [
        ("alb", "logs-retention-week"),
        ("alb-connection", "logs-retention"),
        ("vpcflow", "logs-retention-month"),
        ("nlb", "logs-retention"),
        ("waf", "logs-retention"),
    ],
)
def test_every_source_s_indices_get_the_policy_of_its_period(source: str, policy: str) -> None:
    policies = layout_policies("logs", 90, None, None, LAYOUT)
    index = index_name("logs", source, "2026-12-02", LAYOUT.period(source))
    assert highest(policies, index) == policy


def delete_age(policy: dict[str, Any]) -> timedelta:
    return timedelta(days=int(path(policy)[-1][2].removesuffix("d")))


@pytest.mark.parametrize("period", [Period.WEEK, Period.MONTH])
def test_no_entry_of_a_period_index_is_deleted_younger_than_the_retention(period: Period) -> None:
    # Every week and month of two years (leap and not): the index is created by the first
    # moment of its period, its last entry comes at the last moment of it.
    policy = layout_policies("logs", 90, None, None, IndexLayout.parse(f"alb={period.value}:1"))
    deleted_after = delete_age(policy[f"logs-retention-{period.value}"])
    day = date(2027, 1, 1)
    while day < date(2029, 1, 1):
        name = index_name("logs", "alb", day.isoformat(), period)
        first = day
        while index_name("logs", "alb", day.isoformat(), period) == name:
            day += timedelta(days=1)
        created = datetime(first.year, first.month, first.day, tzinfo=UTC)
        last_entry = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(seconds=1)
        assert created + deleted_after - last_entry >= timedelta(days=90), name
