"""The retention policy (ISM): indices deleted after the retention period. It attaches itself to
every new index through its `ism_template`; it is only updated when it differs."""

from __future__ import annotations

from typing import Any

ISM_PLUGIN = "opensearch-index-management"


def policy_name(prefix: str) -> str:
    return f"{prefix}-retention"


def retention_policy(prefix: str, days: int) -> dict[str, Any]:
    return {
        "policy": {
            "description": f"logferry: delete {prefix}-* indices {days} days after creation",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [],
                    "transitions": [
                        {"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
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
