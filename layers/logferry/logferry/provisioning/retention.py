"""The retention policy (ISM): indices deleted after the retention period, optionally moved to
UltraWarm and cold storage before (Amazon OpenSearch Service). It attaches itself to every new
index through its `ism_template`; it is only updated when it differs."""

from __future__ import annotations

from typing import Any

ISM_PLUGIN = "opensearch-index-management"


def policy_name(prefix: str) -> str:
    return f"{prefix}-retention"


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
) -> dict[str, Any]:
    """Indices deleted `days` after creation; with tiers, moved to UltraWarm after
    `warm_after_days` and to cold storage after `cold_after_days` first (hot -> warm -> cold ->
    delete). Cold storage takes indices from UltraWarm only: without a warm tier, the cold state
    migrates to UltraWarm first. Cold indices are detached from the cluster: `cold_delete`, not
    `delete`, removes them."""
    tiers = (("warm", warm_after_days), ("cold", cold_after_days))
    ages = [after for _, after in tiers if after is not None] + [days]
    if ages[0] < 1 or ages != sorted(set(ages)):
        raise ValueError(
            f"retention tiers: expected 0 < warm < cold < {days} days, got warm"
            f" {warm_after_days}, cold {cold_after_days}"
        )
    if len(ages) == 1:
        description = f"logferry: delete {prefix}-* indices {days} days after creation"
    else:
        moves = [
            f"to {'UltraWarm' if name == 'warm' else 'cold storage'} after {after} days"
            for name, after in tiers
            if after is not None
        ]
        description = (
            f"logferry: {prefix}-* indices {', '.join(moves)}, deleted {days} days after creation"
        )
    # (state, its actions, the index age at which it is entered), in order
    states: list[tuple[str, list[dict[str, Any]], int]] = [("hot", [], 0)]
    if warm_after_days is not None:
        states.append(("warm", [_warm_migration()], warm_after_days))
    if cold_after_days is not None:
        through_warm = [] if warm_after_days is not None else [_warm_migration()]
        states.append(("cold", [*through_warm, _cold_migration()], cold_after_days))
    delete = "delete" if cold_after_days is None else "cold_delete"
    states.append(("delete", [{delete: {}}], days))
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
    return {
        "policy": {
            "description": description,
            "default_state": "hot",
            "states": body_states,
            # Attaches the policy to every new index of the pattern, as it is created.
            "ism_template": [{"index_patterns": [f"{prefix}-*"], "priority": 100}],
        }
    }


def apply_policy(client: Any, name: str, body: dict[str, Any]) -> str:
    path = f"/_plugins/_ism/policies/{name}"
    try:
        current = client.transport.perform_request("GET", path)
    except Exception as exc:
        if getattr(exc, "status_code", None) != 404:
            raise
        client.transport.perform_request("PUT", path, body=body)
        return f"ISM policy {name} created"
    existing = current.get("policy", {})
    wanted = body["policy"]
    if (
        all(existing.get(key) == value for key, value in wanted.items() if key != "ism_template")
        and [
            {k: t.get(k) for k in ("index_patterns", "priority")}
            for t in existing.get("ism_template") or []
        ]
        == wanted["ism_template"]
    ):
        return f"ISM policy {name} up to date"
    client.transport.perform_request(
        "PUT",
        path,
        body=body,
        params={"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]},
    )
    return f"ISM policy {name} updated"
