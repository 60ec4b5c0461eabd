"""Index template and retention policy, applied idempotently (`logferry setup`, deploy hook).

Re-applying changes nothing that is already right: the template is PUT as a whole (same body,
same result) and the ISM policy is only updated when it differs.
"""

from __future__ import annotations

import logging
from typing import Any

from . import dashboards, monitors
from .config import Settings
from .formats import index_properties

log = logging.getLogger(__name__)

ISM_PLUGIN = "opensearch-index-management"


def template_name(prefix: str) -> str:
    return f"{prefix}-logferry"


def policy_name(prefix: str) -> str:
    return f"{prefix}-retention"


def index_template(prefix: str) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 100,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "refresh_interval": "5s",
                    "mapping": {"total_fields": {"limit": 3000}},
                    "codec": "best_compression",
                }
            },
            "mappings": {
                "dynamic": True,
                "date_detection": False,
                # Fields a format does not declare are exact-match keywords, never text:
                # aggregations work on them and no analyser runs at ingest.
                "dynamic_templates": [
                    {
                        "strings_as_keyword": {
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    }
                ],
                "properties": index_properties(),
            },
        },
        "_meta": {"managed_by": "logferry"},
    }


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


def installed_plugins(client: Any) -> set[str]:
    rows = client.cat.plugins(format="json")
    return {row["component"] for row in rows}


def apply(client: Any, settings: Settings) -> list[str]:
    """Apply template and policy; return one line per thing done, for the person running it."""
    done = []
    prefix = settings.index_prefix
    client.indices.put_index_template(name=template_name(prefix), body=index_template(prefix))
    done.append(f"index template {template_name(prefix)} for {prefix}-*")
    plugins = installed_plugins(client)
    if ISM_PLUGIN not in plugins:
        done.append(f"ISM plugin not installed: retention policy {policy_name(prefix)} not applied")
    else:
        done.append(
            _apply_policy(
                client, policy_name(prefix), retention_policy(prefix, settings.retention_days)
            )
        )
    # Monitors and saved objects note themselves when their plugin or endpoint is missing.
    done.extend(monitors.apply(client, settings, plugins))
    done.extend(dashboards.apply(settings))
    return done


def _apply_policy(client: Any, name: str, body: dict[str, Any]) -> str:
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


def _same_policy(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Compare what we set; the server adds fields of its own (ids, times, schema version)."""
    templates = [
        {k: t.get(k) for k in ("index_patterns", "priority")}
        for t in existing.get("ism_template") or []
    ]
    return templates == wanted["ism_template"] and all(
        existing.get(key) == value for key, value in wanted.items() if key != "ism_template"
    )
