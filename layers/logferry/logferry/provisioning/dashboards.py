"""OpenSearch Dashboards saved objects for analysts, imported through the saved-objects API.

The objects live in content/dashboards/*.ndjson, written for the index prefix `logs` (index
pattern titles `logs-nlb-*`, ids `logferry-...`). For another prefix, titles of index patterns
are rewritten to that prefix, ids get the prefix in front and other titles a ` [prefix]`
suffix, so two deployments sharing one Dashboards do not overwrite each other.

Importing uses `POST <dashboards>/api/saved_objects/_import?overwrite=true` (multipart, with
the `osd-xsrf` header Dashboards demands), signed with SigV4 (service `es`) on AWS. Fixed ids
plus overwrite make the import idempotent: re-running replaces the same objects.

The tests check the objects against the index mapping (tests/field_checks.py: which fields each
object names, and how it uses them), so a renamed field cannot silently empty a dashboard.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from ..config import ClusterAccess, Settings
from ..output.client import needs_sigv4, signing_region
from . import content

CONTENT_PREFIX = "logs"
IMPORT_PATH = "/api/saved_objects/_import?overwrite=true"


class DashboardsError(RuntimeError):
    """Dashboards refused the import (HTTP error or per-object errors)."""


# -- objects ----------------------------------------------------------------------------


def saved_objects(prefix: str = CONTENT_PREFIX) -> list[dict[str, Any]]:
    """Every saved object, in file order (index patterns first), rendered for `prefix`."""
    objects = []
    for name, text in content.texts("dashboards", ".ndjson"):
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    objects.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"dashboards/{name}:{lineno}: {exc}") from None
    if prefix == CONTENT_PREFIX:
        return objects
    return [_for_prefix(obj, prefix) for obj in objects]


def _for_prefix(obj: dict[str, Any], prefix: str) -> dict[str, Any]:
    obj = json.loads(json.dumps(obj))
    obj["id"] = f"{prefix}-{obj['id']}"
    for ref in obj.get("references", []):
        ref["id"] = f"{prefix}-{ref['id']}"
    attributes = obj["attributes"]
    if obj["type"] == "index-pattern":
        attributes["title"] = index_pattern_title(attributes["title"], prefix)
    else:
        attributes["title"] = f"{attributes['title']} [{prefix}]"
    return obj


def index_pattern_title(title: str, prefix: str) -> str:
    """`logs-alb-*,-logs-alb-connection-*` for another prefix (each part, exclusions too)."""
    parts = []
    for part in title.split(","):
        sign = "-" if part.startswith("-") else ""
        name = part[len(sign) :]
        if name.startswith(f"{CONTENT_PREFIX}-"):
            name = f"{prefix}-{name[len(CONTENT_PREFIX) + 1 :]}"
        parts.append(sign + name)
    return ",".join(parts)


def ndjson(objects: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(obj, separators=(",", ":")).encode() + b"\n" for obj in objects)


# -- import -----------------------------------------------------------------------------


def multipart(payload: bytes, boundary: str, filename: str = "logferry.ndjson") -> bytes:
    """A multipart/form-data body with one file field named `file` (what _import reads)."""
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode()


def _sigv4_headers(
    url: str, body: bytes, headers: dict[str, str], access: ClusterAccess
) -> dict[str, str]:
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise DashboardsError("SigV4 signing needs AWS credentials, and none were found")
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(credentials, "es", signing_region(session, access)).add_auth(request)
    return dict(request.headers.items())


def import_request(
    dashboards_url: str,
    objects: Iterable[dict[str, Any]],
    boundary: str | None = None,
    access: ClusterAccess | None = None,
) -> urllib.request.Request:
    """The HTTP request that imports `objects` (built apart from sending, to be inspected);
    signed as the cluster's clients are (`access`, by default from the environment)."""
    access = access or ClusterAccess.from_env()
    url = dashboards_url.rstrip("/") + IMPORT_PATH
    boundary = boundary or f"logferry-{uuid.uuid4().hex}"
    body = multipart(ndjson(objects), boundary)
    headers = {
        "osd-xsrf": "true",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    if needs_sigv4(urlparse(url).hostname or "", access):
        headers = _sigv4_headers(url, body, headers, access)
    return urllib.request.Request(url, data=body, headers=headers, method="POST")


def import_objects(
    dashboards_url: str,
    objects: list[dict[str, Any]],
    timeout: float = 60.0,
    access: ClusterAccess | None = None,
) -> int:
    """Import `objects`; the number Dashboards reports imported. Raises DashboardsError."""
    request = import_request(dashboards_url, objects, access=access)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        raise DashboardsError(
            f"Dashboards import at {request.full_url}: HTTP {exc.code}: {detail}"
        ) from None
    if not answer.get("success"):
        errors = answer.get("errors") or []
        summary = "; ".join(
            f"{e.get('type')}/{e.get('id')}: {(e.get('error') or {}).get('type')}"
            for e in errors[:10]
        )
        raise DashboardsError(
            f"Dashboards import: {answer.get('successCount', 0)} of {len(objects)} objects"
            f" imported; errors: {summary or answer}"
        )
    count: int = answer.get("successCount", len(objects))
    return count


def apply(settings: Settings) -> list[str]:
    """Import the saved objects when a Dashboards URL is configured; one line per thing done."""
    objects = saved_objects(settings.index_prefix)
    if not settings.dashboards_url:
        note = (
            f"LOGFERRY_DASHBOARDS_URL not set: {len(objects)} Dashboards saved objects not imported"
        )
        return [note]
    try:
        count = import_objects(settings.dashboards_url, objects, access=settings.cluster)
    except urllib.error.URLError as exc:  # not an HTTP answer: nothing listens there
        url = settings.dashboards_url
        return [f"Dashboards not reachable at {url} ({exc.reason}): saved objects not imported"]
    return [f"Dashboards: {count} saved objects imported into {settings.dashboards_url}"]
