"""OpenSearch roles (fine-grained access control, the security plugin), written idempotently:
each role whole when it differs from what this code says, mappings only where backend roles
are given (the security plugin would otherwise write a new version of its configuration)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opensearchpy.exceptions import TransportError

from ..config import Settings
from ..output.client import AccessDenied

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
    also what merging a transaction across objects needs (logferry.mail.merger.MailMerger): a
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
