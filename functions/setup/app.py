"""CloudFormation custom resource `Custom::LogferrySetup`: `logferry setup` on every deployment.

Create and Update apply the index template, retention policy, monitors and saved objects
(`logferry.provisioning.apply`, idempotent); Delete changes nothing (indices, templates and policies
outlive the stack). Whatever happens, CloudFormation gets an answer: a custom resource left
unanswered holds the stack until its service timeout.

On a domain the stack created (fine-grained access control, master user in Secrets Manager),
the master user first writes the OpenSearch roles and maps the functions' IAM roles to them
(`logferry.provisioning.roles.apply_roles`, the code `logferry setup` runs too):
`logferry_writer` (the ingest role: create and write `<prefix>-*` indices, and what merging
mail needs) and `logferry_setup` (this function's role); `logferry_reader` is written for
analysts. Everything else runs as this function's role, signed with SigV4.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from logferry import provisioning
from logferry.config import Settings
from logferry.output.client import make_client, secret_credentials
from logferry.provisioning.roles import SETUP_ROLE, WRITER_ROLE, setup_role, writer_role

# The roles are logferry.provisioning.roles'; named here too for readers of this function (and
# its tests).
__all__ = ["SETUP_ROLE", "WRITER_ROLE", "lambda_handler", "setup_role", "writer_role"]

logger = Logger()

# Seconds kept back from the invocation to answer CloudFormation after the work.
ANSWER_RESERVE = 15.0
REQUEST_TIMEOUT = 30.0
# Waits before trying again when the domain is not answering yet (new domains, VPC ENIs).
RETRY_DELAYS = (5.0, 20.0)
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
# CloudFormation refuses response bodies over 4 KiB.
RESPONSE_LIMIT = 4096

Remaining = Callable[[], float]


# -- OpenSearch roles (stack-created domains): logferry.provisioning owns them -------------------


def master_client(url: str, secret_arn: str, timeout: float) -> OpenSearch:
    """A client signed in as the master user kept in Secrets Manager (never in the env)."""
    return make_client(url, timeout=timeout, credentials=secret_credentials(secret_arn))


def role_mappings(properties: dict[str, Any], settings: Settings) -> dict[str, tuple[str, ...]]:
    """The functions' IAM roles (resource properties) and any configured backend roles."""
    mappings = provisioning.role_mappings(settings)
    for name, key in ((WRITER_ROLE, "WriterRoleArn"), (SETUP_ROLE, "SetupRoleArn")):
        arn = str(properties.get(key) or "")
        if arn:
            mappings[name] = (arn, *mappings[name])
    return mappings


# -- the work ---------------------------------------------------------------------------


def settings_of(properties: dict[str, Any]) -> Settings:
    """The function's environment, overridden by the resource's `Settings` property."""
    overrides = {key: str(value) for key, value in (properties.get("Settings") or {}).items()}
    return Settings.from_env({**os.environ, **overrides})


def run_setup(properties: dict[str, Any], settings: Settings, remaining: Remaining) -> list[str]:
    timeout = max(1.0, min(REQUEST_TIMEOUT, remaining() - ANSWER_RESERVE))
    steps: list[str] = []
    secret_arn = str(properties.get("MasterUserSecretArn") or "")
    if secret_arn:
        admin = master_client(settings.opensearch_url, secret_arn, timeout)
        steps += provisioning.apply_roles(
            admin, settings.index_prefix, role_mappings(properties, settings)
        )
    client = make_client(settings.opensearch_url, timeout=timeout, access=settings.cluster)
    steps += provisioning.apply(client, settings, with_roles=False)
    return steps


def transient(exc: Exception) -> bool:
    if isinstance(exc, OpenSearchConnectionError):
        return True
    return isinstance(exc, TransportError) and exc.status_code in TRANSIENT_STATUS


def with_retries(work: Callable[[], list[str]], remaining: Remaining) -> list[str]:
    """Run `work` (idempotent) again after transient failures while time allows."""
    for delay in RETRY_DELAYS:
        try:
            return work()
        except Exception as exc:
            if not transient(exc) or remaining() < delay + REQUEST_TIMEOUT + ANSWER_RESERVE:
                raise
            logger.warning("OpenSearch not ready, trying again", delay=delay, error=str(exc))
            time.sleep(delay)
    return work()


# -- CloudFormation ---------------------------------------------------------------------


def response_body(
    event: dict[str, Any], status: str, reason: str, physical_id: str, data: dict[str, str]
) -> bytes:
    """The answer CloudFormation expects, cut to fit its 4 KiB limit."""
    body = {
        "Status": status,
        "Reason": reason[:1000],
        "PhysicalResourceId": physical_id,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "NoEcho": False,
        "Data": {key: value[:2000] for key, value in data.items()},
    }
    encoded = json.dumps(body).encode()
    if len(encoded) > RESPONSE_LIMIT:
        body["Data"] = {key: value[:200] for key, value in data.items()}
        encoded = json.dumps(body).encode()
    return encoded


def answer(url: str, body: bytes, attempts: int = 3) -> None:
    """PUT the answer to the pre-signed URL (signed without a content type: send none)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                response.read()
            return
        except OSError as exc:
            logger.error("answering CloudFormation failed", attempt=attempt, error=str(exc))
            if attempt == attempts:
                raise
            time.sleep(2.0 * attempt)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> None:
    def remaining() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    request_type = event.get("RequestType", "")
    physical_id = str(event.get("PhysicalResourceId") or "logferry-setup-not-created")
    status, reason, data = "SUCCESS", "", {}
    try:
        if request_type in ("Create", "Update"):
            properties = event.get("ResourceProperties") or {}
            settings = settings_of(properties)
            physical_id = f"logferry-setup-{settings.index_prefix}"
            steps = with_retries(lambda: run_setup(properties, settings, remaining), remaining)
            for step in steps:
                logger.info(step)
            data = {"Steps": "; ".join(steps)}
            reason = f"{len(steps)} steps applied to {settings.opensearch_url}"
        elif request_type == "Delete":
            reason = "nothing deleted: indices, templates and policies outlive the stack"
        else:
            raise ValueError(f"unexpected RequestType {request_type!r}")
    except Exception as exc:
        logger.exception("setup failed")
        status, reason = "FAILED", f"{type(exc).__name__}: {exc}"
    answer(event["ResponseURL"], response_body(event, status, reason, physical_id, data))
