"""What the cluster needs before documents arrive, applied idempotently (`logferry setup`, and the
setup custom resource on every deployment): the OpenSearch roles, the index templates (one for
every index, one more per source the layout names), the retention policies (one per index
period in use), the alert monitors and the Dashboards saved objects.

Re-applying changes nothing that is already right: templates are PUT as a whole (same body,
same result), the policies and the roles are only written when they differ.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from . import dashboards, monitors
from .retention import ISM_PLUGIN, apply_policy, layout_policies, policy_name, retention_policy
from .roles import apply_roles, role_mappings
from .templates import apply_templates, index_template, layout_templates, template_name

__all__ = [
    "ISM_PLUGIN",
    "apply",
    "apply_policy",
    "apply_roles",
    "apply_templates",
    "index_template",
    "installed_plugins",
    "layout_policies",
    "layout_templates",
    "policy_name",
    "retention_policy",
    "role_mappings",
    "template_name",
]


def installed_plugins(client: Any) -> set[str]:
    rows = client.cat.plugins(format="json")
    return {row["component"] for row in rows}


def apply(
    client: Any, settings: Settings, *, with_roles: bool = True, serverless: Any = None
) -> list[str]:
    """Apply roles, template and policy; return one line per thing done, for the person
    running it. `with_roles=False`: the roles were written already, by another client (the setup
    custom resource signs in as the master user for them). On OpenSearch Serverless
    (`settings.serverless`): templates and a data lifecycle policy, written through
    `serverless` (a boto3 `opensearchserverless` client; made when not given)."""
    done = []
    prefix = settings.index_prefix
    if settings.serverless:
        from .serverless import apply_lifecycle, apply_template, not_on_serverless

        if serverless is None:
            import boto3

            serverless = boto3.client("opensearchserverless")
        done.append(apply_template(client, prefix))
        done.append(apply_lifecycle(serverless, settings))
        done.extend(not_on_serverless(settings))
        done.extend(dashboards.apply(settings))
        return done
    if with_roles:
        done.extend(apply_roles(client, prefix, role_mappings(settings)))
    done.extend(apply_templates(client, prefix, settings.index_layout, settings.replicas))
    plugins = installed_plugins(client)
    policies = layout_policies(
        prefix,
        settings.retention_days,
        settings.warm_after_days,
        settings.cold_after_days,
        settings.index_layout,
    )
    if ISM_PLUGIN not in plugins:
        names = [name for name, body in policies.items() if body["policy"].get("ism_template")]
        which = "policy" if len(names) == 1 else "policies"
        done.append(f"ISM plugin not installed: retention {which} {', '.join(names)} not applied")
    else:
        for name, body in policies.items():
            line = apply_policy(client, name, body)
            if line is not None:
                done.append(line)
    # Monitors and saved objects note themselves when their plugin or endpoint is missing.
    done.extend(monitors.apply(client, settings, plugins))
    done.extend(dashboards.apply(settings))
    return done
