"""Index template, retention policy and OpenSearch roles, applied idempotently (`logferry
setup`, deploy hook).

Re-applying changes nothing that is already right: the template is PUT as a whole (same body,
same result), the ISM policy is only updated when it differs, and so are the roles and their
mappings (the security plugin would otherwise write a new version of its configuration).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opensearchpy.exceptions import TransportError

from . import dashboards, monitors
from .client import AccessDenied
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


# -- OpenSearch roles (fine-grained access control, the security plugin) ----------------------
#
# Three roles per domain, each for one kind of caller, each granting the least its caller
# needs. tests/security proves each against the real security plugin.

WRITER_ROLE = "logferry_writer"
SETUP_ROLE = "logferry_setup"
READER_ROLE = "logferry_reader"
SECURITY_API = "/_plugins/_security/api"
# The indices OpenSearch Dashboards keeps saved objects in (per tenant: `.kibana_<n>_<name>`).
DASHBOARDS_INDICES = [".kibana", ".kibana_*", ".opensearch_dashboards", ".opensearch_dashboards_*"]


def writer_role(prefix: str) -> dict[str, Any]:
    """The ingest function: create `<prefix>-*` indices and index into them; on mail indices
    also what merging a transaction across objects needs (logferry.mail.MailMerger): a
    realtime multi-get by id, and deleting the copy a transaction leaves when it moves to an
    earlier day. No search, no reading other indices, no index deletion, no templates.
    Each action here was taken out in turn and the writer's tests failed without it."""
    return {
        "description": f"logferry ingest: create and write {prefix}-* indices, merge mail",
        "cluster_permissions": ["indices:data/write/bulk", "indices:data/read/mget"],
        "index_permissions": [
            {
                "index_patterns": [f"{prefix}-*"],
                # (Mapping updates a bulk request causes run as the node itself: the security
                # plugin does not ask for indices:admin/mapping/put.)
                "allowed_actions": [
                    "indices:admin/create",
                    "indices:data/write/bulk*",
                    "indices:data/write/index",
                ],
            },
            {
                "index_patterns": [f"{prefix}-mail-*"],
                "allowed_actions": ["indices:data/read/mget*", "indices:data/write/delete"],
            },
        ],
    }


def setup_role(prefix: str) -> dict[str, Any]:
    """The setup function: templates, ISM, monitors, channels, saved objects. (The security
    plugin checks index templates as cluster actions outside `cluster:*`: `cluster_all` alone
    is refused the template.)"""
    return {
        "description": f"logferry setup: manage {prefix}-* templates, policies, monitors",
        "cluster_permissions": ["cluster_all", "indices:admin/index_template/*"],
        "index_permissions": [
            {
                "index_patterns": [f"{prefix}-*", ".kibana*", ".opensearch_dashboards*"],
                "allowed_actions": ["indices_all"],
            }
        ],
        "tenant_permissions": [
            {"tenant_patterns": ["global_tenant"], "allowed_actions": ["kibana_all_write"]}
        ],
    }


def reader_role(prefix: str) -> dict[str, Any]:
    """Analysts: read and search `<prefix>-*`, read the Dashboards saved objects; no writes."""
    return {
        "description": f"logferry analysts: read and search {prefix}-*, Dashboards read-only",
        "cluster_permissions": ["cluster_composite_ops_ro"],
        "index_permissions": [
            {"index_patterns": [f"{prefix}-*"], "allowed_actions": ["read", "search"]},
            {"index_patterns": DASHBOARDS_INDICES, "allowed_actions": ["read"]},
        ],
        "tenant_permissions": [
            {"tenant_patterns": ["global_tenant"], "allowed_actions": ["kibana_all_read"]}
        ],
    }


def roles(prefix: str) -> dict[str, dict[str, Any]]:
    return {
        WRITER_ROLE: writer_role(prefix),
        SETUP_ROLE: setup_role(prefix),
        READER_ROLE: reader_role(prefix),
    }


def role_mappings(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Backend roles (IAM role ARNs, SAML groups, ...) to map to each role, from settings."""
    return {
        WRITER_ROLE: settings.writer_backend_roles,
        SETUP_ROLE: settings.setup_backend_roles,
        READER_ROLE: settings.reader_backend_roles,
    }


def security_enabled(client: Any) -> bool:
    """True when the security plugin answers (it does on every fine-grained domain)."""
    try:
        client.transport.perform_request("GET", "/_plugins/_security/authinfo")
    except TransportError as exc:
        if exc.status_code in (400, 404):  # no such route: the plugin is not installed
            return False
        raise
    return True


def _role_shape(role: dict[str, Any]) -> dict[str, Any]:
    """What we set of a role, as comparable values (the plugin adds flags and defaults)."""
    return {
        "description": role.get("description", ""),
        "cluster_permissions": sorted(role.get("cluster_permissions") or []),
        "index_permissions": [
            {
                "index_patterns": sorted(p.get("index_patterns") or []),
                "allowed_actions": sorted(p.get("allowed_actions") or []),
                "dls": p.get("dls") or "",
                "fls": sorted(p.get("fls") or []),
                "masked_fields": sorted(p.get("masked_fields") or []),
            }
            for p in role.get("index_permissions") or []
        ],
        "tenant_permissions": [
            {
                "tenant_patterns": sorted(p.get("tenant_patterns") or []),
                "allowed_actions": sorted(p.get("allowed_actions") or []),
            }
            for p in role.get("tenant_permissions") or []
        ],
    }


def _current(client: Any, kind: str, name: str) -> dict[str, Any] | None:
    try:
        found = client.transport.perform_request("GET", f"{SECURITY_API}/{kind}/{name}")
    except TransportError as exc:
        if exc.status_code == 404:
            return None
        raise
    current: dict[str, Any] | None = found.get(name)
    return current


def apply_roles(
    client: Any, prefix: str, backend_roles: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Write the three roles, and map each to its backend roles where some are given.

    The roles belong to logferry: each is written whole when it differs from what this code
    says. A mapping keeps the users and hosts someone mapped by hand; its backend roles become
    the ones given (a role given none keeps its mapping as it is). `client` must be allowed to
    manage security (the master user, an administrator)."""
    if not security_enabled(client):
        return ["security plugin not installed: no role mapping needed"]
    backend_roles = backend_roles or {}
    done = []
    try:
        for name, body in roles(prefix).items():
            current = _current(client, "roles", name)
            if current is not None and _role_shape(current) == _role_shape(body):
                done.append(f"role {name} up to date")
            else:
                client.transport.perform_request("PUT", f"{SECURITY_API}/roles/{name}", body=body)
                done.append(f"role {name} {'created' if current is None else 'updated'}")
            wanted = sorted(dict.fromkeys(backend_roles.get(name) or ()))
            if not wanted:
                continue
            mapping = _current(client, "rolesmapping", name) or {}
            if sorted(mapping.get("backend_roles") or []) == wanted:
                done.append(f"role {name} already mapped to {', '.join(wanted)}")
                continue
            client.transport.perform_request(
                "PUT",
                f"{SECURITY_API}/rolesmapping/{name}",
                body={
                    "backend_roles": wanted,
                    "users": mapping.get("users") or [],
                    "hosts": mapping.get("hosts") or [],
                },
            )
            done.append(f"role {name} mapped to {', '.join(wanted)}")
    except AccessDenied as exc:
        done.append(
            f"roles not written: the caller may not manage security ({exc}); run `logferry"
            " setup` as an administrator, or create them as docs/deploy.md says"
        )
    return done
