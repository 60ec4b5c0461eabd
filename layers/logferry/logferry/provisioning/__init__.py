"""What the cluster needs before documents arrive, applied idempotently (`logferry setup`, and the
setup custom resource on every deployment): the OpenSearch roles, the index template, the
retention policy, the alert monitors and the Dashboards saved objects.

Re-applying changes nothing that is already right: the template is PUT as a whole (same body,
same result), the policy and the roles are only written when they differ.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from . import dashboards, monitors
from .retention import ISM_PLUGIN, apply_policy, policy_name, retention_policy
from .roles import apply_roles, role_mappings
from .templates import index_template, template_name

__all__ = [
    "ISM_PLUGIN",
    "apply",
    "apply_policy",
    "apply_roles",
    "index_template",
    "installed_plugins",
    "policy_name",
    "retention_policy",
    "role_mappings",
    "template_name",
]


def installed_plugins(client: Any) -> set[str]:
    rows = client.cat.plugins(format="json")
    return {row["component"] for row in rows}


def apply(client: Any, settings: Settings, *, with_roles: bool = True) -> list[str]:
    """Apply roles, template and policy; return one line per thing done, for the person
    running it. `with_roles=False`: the roles were written already, by another client (the setup
    custom resource signs in as the master user for them)."""
    done = []
    prefix = settings.index_prefix
    if with_roles:
        done.extend(apply_roles(client, prefix, role_mappings(settings)))
    client.indices.put_index_template(name=template_name(prefix), body=index_template(prefix))
    done.append(f"index template {template_name(prefix)} for {prefix}-*")
    plugins = installed_plugins(client)
    if ISM_PLUGIN not in plugins:
        done.append(f"ISM plugin not installed: retention policy {policy_name(prefix)} not applied")
    else:
        done.append(
            apply_policy(
                client,
                policy_name(prefix),
                retention_policy(
                    prefix,
                    settings.retention_days,
                    settings.warm_after_days,
                    settings.cold_after_days,
                ),
            )
        )
    # Monitors and saved objects note themselves when their plugin or endpoint is missing.
    done.extend(monitors.apply(client, settings, plugins))
    done.extend(dashboards.apply(settings))
    return done
