"""The retention policies (ISM): indices deleted after the retention period, optionally moved to
UltraWarm and cold storage before (Amazon OpenSearch Service). Each attaches itself to new
indices through its `ism_template`; it is only updated when it differs.

ISM counts ages from an index's creation, and an index is created by its period's first entry:
a weekly or monthly index still takes entries for up to 7 or 31 days after it. So there is one
policy per period kind, and a weekly or monthly index moves and is deleted its period's days
later than a daily one (90 days of retention: a monthly index is deleted 121 days after its
creation, when its last day is 90 days old). The warm and cold moves shift as much: an
UltraWarm index is read-only, and no index may leave hot storage while entries still arrive.
A daily index keeps the rule it always had (deleted `days` after its creation, so its last
hours go a day short of the retention: changing it would rewrite every domain's policy for less
than a day), and any index first written by an entry from the future (LOGFERRY_ACCEPT_DAYS_AHEAD,
a day) is created, and so deleted, that much early.
- `<prefix>-retention`: daily indices; its ism_template `<prefix>-*` (priority 100) takes every
  index no other policy claims. Without a weekly or monthly source it is the policy as it was.
- `<prefix>-retention-week`, `<prefix>-retention-month`: the sources the layout gives that
  period, by `<prefix>-<source>-*` patterns whose priorities are those of the sources' index
  templates (provisioning.templates.source_priority). Where such a pattern also matches a
  daily source's indices (`logs-alb-*` and `logs-alb-connection-*`), the daily policy claims
  them back with the longer source's own pattern at its higher priority.
- A period kind the layout no longer uses keeps its policy, without an ism_template: the
  indices it manages stay managed (ISM would fail them if it were deleted), new ones are not
  attached to it.

Rejected alternatives: telling a weekly or monthly index by its name alone (ism_template
patterns have `*` only: `YYYY.MM` cannot be told from `YYYY.MM.DD`); one policy per source
(as many policies as sources, each the same but for its pattern); counting from the period's
start, as a `min_index_age` cannot, or by a `cron` condition (one job per index, not fit for a
rolling window).
"""

from __future__ import annotations

from typing import Any

from ..output.layout import IndexLayout, Period, source_kinds
from .templates import CATCH_ALL_PRIORITY, source_priority

ISM_PLUGIN = "opensearch-index-management"


def policy_name(prefix: str, period: Period = Period.DAY) -> str:
    if period is Period.DAY:
        return f"{prefix}-retention"
    return f"{prefix}-retention-{period.value}"


# Amazon OpenSearch Service only (UltraWarm and cold storage enabled on the domain). A migration
# fails while another one runs: retried, as the service's own sample policy does.
_RETRY = {"count": 5, "backoff": "exponential", "delay": "1h"}


def _warm_migration() -> dict[str, Any]:
    return {"warm_migration": {}, "retry": dict(_RETRY)}


def _cold_migration() -> dict[str, Any]:
    return {"cold_migration": {"timestamp_field": "@timestamp"}, "retry": dict(_RETRY)}


def retention_policy(
    prefix: str,
    days: int,
    warm_after_days: int | None = None,
    cold_after_days: int | None = None,
    *,
    period: Period = Period.DAY,
    ism_template: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Indices deleted `days` after creation; with tiers, moved to UltraWarm after
    `warm_after_days` and to cold storage after `cold_after_days` first (hot -> warm -> cold ->
    delete). Cold storage takes indices from UltraWarm only: without a warm tier, the cold state
    migrates to UltraWarm first. Cold indices are detached from the cluster: `cold_delete`, not
    `delete`, removes them.

    A weekly or monthly `period`: every age is its period's days later. `ism_template`: the
    indices it attaches to (default: `<prefix>-*` for daily indices, none for the others)."""
    tiers = (("warm", warm_after_days), ("cold", cold_after_days))
    ages = [after for _, after in tiers if after is not None] + [days]
    if ages[0] < 1 or ages != sorted(set(ages)):
        raise ValueError(
            f"retention tiers: expected 0 < warm < cold < {days} days, got warm"
            f" {warm_after_days}, cold {cold_after_days}"
        )
    late = 0 if period is Period.DAY else period.days
    which = f"{prefix}-*" if period is Period.DAY else f"{prefix} {period.value}ly"
    tail = "" if period is Period.DAY else f" ({days} after their last day)"
    if len(ages) == 1:
        description = f"logferry: delete {which} indices {days + late} days after creation{tail}"
    else:
        moves = [
            f"to {'UltraWarm' if name == 'warm' else 'cold storage'} after {age + late} days"
            for name, age in tiers
            if age is not None
        ]
        description = (
            f"logferry: {which} indices {', '.join(moves)}, deleted {days + late} days after"
            f" creation{tail}"
        )
    # (state, its actions, the index age at which it is entered), in order
    states: list[tuple[str, list[dict[str, Any]], int]] = [("hot", [], 0)]
    if warm_after_days is not None:
        states.append(("warm", [_warm_migration()], warm_after_days + late))
    if cold_after_days is not None:
        through_warm = [] if warm_after_days is not None else [_warm_migration()]
        states.append(("cold", [*through_warm, _cold_migration()], cold_after_days + late))
    delete = "delete" if cold_after_days is None else "cold_delete"
    states.append(("delete", [{delete: {}}], days + late))
    body_states = [
        {
            "name": name,
            "actions": actions,
            "transitions": [
                {"state_name": following, "conditions": {"min_index_age": f"{age}d"}}
                for following, _, age in states[i + 1 : i + 2]
            ],
        }
        for i, (name, actions, _) in enumerate(states)
    ]
    policy: dict[str, Any] = {
        "description": description,
        "default_state": "hot",
        "states": body_states,
    }
    if ism_template is None and period is Period.DAY:
        ism_template = [{"index_patterns": [f"{prefix}-*"], "priority": CATCH_ALL_PRIORITY}]
    if ism_template:
        # Attaches the policy to every new index of the patterns, as it is created.
        policy["ism_template"] = ism_template
    return {"policy": policy}


def layout_policies(
    prefix: str,
    days: int,
    warm_after_days: int | None,
    cold_after_days: int | None,
    layout: IndexLayout,
    known: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The policy of each period kind, by name (see the module docstring). `known`: every
    source name (default: the format registry's)."""

    def claim(source: str) -> dict[str, Any]:
        return {"index_patterns": [f"{prefix}-{source}-*"], "priority": source_priority(source)}

    if known is None:
        known = list(source_kinds()) if layout.sources else []
    longer = [
        claim(other)
        for other in known
        if layout.period(other) is Period.DAY
        and any(
            other.startswith(f"{source}-")
            for source, shape in layout.sources
            if shape.period is not Period.DAY
        )
    ]
    policies = {
        policy_name(prefix): retention_policy(
            prefix,
            days,
            warm_after_days,
            cold_after_days,
            ism_template=[
                {"index_patterns": [f"{prefix}-*"], "priority": CATCH_ALL_PRIORITY},
                *longer,
            ],
        )
    }
    for period in (Period.WEEK, Period.MONTH):
        policies[policy_name(prefix, period)] = retention_policy(
            prefix,
            days,
            warm_after_days,
            cold_after_days,
            period=period,
            ism_template=[claim(source) for source in layout.named(period)],
        )
    return policies


def apply_policy(client: Any, name: str, body: dict[str, Any]) -> str | None:
    """Create or update the policy `name`. A policy attached to no index (no ism_template) is
    not created: None when there is nothing to do."""
    path = f"/_plugins/_ism/policies/{name}"
    wanted = body["policy"]
    try:
        current = client.transport.perform_request("GET", path)
    except Exception as exc:
        if getattr(exc, "status_code", None) != 404:
            raise
        if not wanted.get("ism_template"):
            return None
        client.transport.perform_request("PUT", path, body=body)
        return f"ISM policy {name} created"
    existing = current.get("policy", {})
    if all(
        existing.get(key) == value for key, value in wanted.items() if key != "ism_template"
    ) and [
        {k: t.get(k) for k in ("index_patterns", "priority")}
        for t in existing.get("ism_template") or []
    ] == wanted.get("ism_template", []):
        return f"ISM policy {name} up to date"
    client.transport.perform_request(
        "PUT",
        path,
        body=body,
        params={"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]},
    )
    return f"ISM policy {name} updated"
