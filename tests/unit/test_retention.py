"""The retention policy's shape (ISM is not installable here): hot until deleted by default;
with tiers, hot -> warm (UltraWarm) -> cold (cold storage) -> delete by index age."""

from __future__ import annotations

from typing import Any

import pytest

from logferry.config import Settings
from logferry.provisioning import retention_policy

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
    client = SimpleNamespace(indices=SimpleNamespace(put_index_template=lambda **kwargs: None))
    env = {"LOGFERRY_WARM_AFTER_DAYS": "7", "LOGFERRY_COLD_AFTER_DAYS": "30"}
    provisioning.apply(client, Settings.from_env(env), with_roles=False)
    provisioning.apply(client, Settings.from_env({}), with_roles=False)
    assert applied == [retention_policy("logs", 90, 7, 30), UNTIERED]
