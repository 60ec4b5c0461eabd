"""Retention on OpenSearch Serverless: a data lifecycle policy, since a collection has no ISM.

The policy keeps the collection's `<prefix>-*` indices at least LOGFERRY_RETENTION_DAYS (Serverless
deletes what is older, document by document, on its own schedule). It is written through the
Serverless control plane (boto3 `opensearchserverless`), created when missing, updated only when
its body differs: re-applying changes nothing.

What a collection lacks is said, not attempted: the security plugin's roles (a data access
policy admits the roles: template.yaml), ISM, the tiers of UltraWarm and cold storage, and
Alerting (no monitors; the CloudWatch alarms of the stack still watch the pipeline).
"""

from __future__ import annotations

import json
from typing import Any

from ..config import Settings
from .templates import index_template, template_name


def apply_template(client: Any, prefix: str) -> str:
    """The index template of every logferry index, mappings only: a collection sets shards,
    replicas, refresh and codec itself and refuses them in a template."""
    body = index_template(prefix)
    body["template"].pop("settings", None)
    name = template_name(prefix)
    client.indices.put_index_template(name=name, body=body)
    return f"index template {name}: mappings for {prefix}-* (Serverless sets the rest)"


def lifecycle_policy_name(prefix: str) -> str:
    """3 to 32 characters, lower case, digits and '-': what Serverless accepts as a name."""
    return f"{prefix}-retention"[:32]


def lifecycle_policy(settings: Settings) -> dict[str, Any]:
    collection = settings.aoss_collection
    return {
        "Rules": [
            {
                "ResourceType": "index",
                "Resource": [f"index/{collection}/{settings.index_prefix}-*"],
                "MinIndexRetention": f"{settings.retention_days}d",
            }
        ]
    }


def apply_lifecycle(client: Any, settings: Settings) -> str:
    """Create or update the retention policy; one line saying what was done."""
    if not settings.aoss_collection:
        return (
            "OpenSearch Serverless: LOGFERRY_AOSS_COLLECTION not set: retention policy not"
            " applied (name the collection)"
        )
    name = lifecycle_policy_name(settings.index_prefix)
    body = lifecycle_policy(settings)
    found = client.batch_get_lifecycle_policy(identifiers=[{"name": name, "type": "retention"}])
    details = found.get("lifecyclePolicyDetails") or []
    days = settings.retention_days
    if not details:
        client.create_lifecycle_policy(
            name=name,
            type="retention",
            policy=json.dumps(body),
            description=f"logferry: keep {settings.index_prefix}-* for {days} days",
        )
        return f"Serverless lifecycle policy {name}: created ({days} days)"
    current = details[0]
    if current.get("policy") == body:
        return f"Serverless lifecycle policy {name}: unchanged ({days} days)"
    client.update_lifecycle_policy(
        name=name,
        type="retention",
        policyVersion=current["policyVersion"],
        policy=json.dumps(body),
    )
    return f"Serverless lifecycle policy {name}: updated ({days} days)"


def not_on_serverless(settings: Settings) -> list[str]:
    """The lines that say what a collection does not get."""
    lines = [
        "OpenSearch Serverless: no security plugin roles (the data access policy admits the"
        " roles), no ISM (retention is the lifecycle policy), no monitors (no Alerting)"
    ]
    if settings.warm_after_days or settings.cold_after_days:
        lines.append("OpenSearch Serverless: warm and cold tiers do not apply: not set")
    return lines
