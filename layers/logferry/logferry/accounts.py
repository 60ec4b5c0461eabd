"""Reaching into other accounts: clients that act as a role assumed with STS.

A log-archive account lends the function a read role (log-archive.yaml); objects of its buckets
are read, and their KMS keys used, with that role's credentials. Buckets named by no role are
read with the function's own client, as before.

Invariants: one assumed session, and one client per service, for each role (a container reads
many objects of one bucket: one AssumeRole call, not one per object); credentials are fetched
when first used and fetched again before they expire (botocore's own assume-role refresh, the
one behind `role_arn` in an AWS profile, so the refresh window and clock handling are AWS's);
the first pattern that matches a bucket names its role, and a bucket's client is worked out
once. Rejected: assuming the role per object (an STS call per object, throttled at a few
hundred a second across an account), and hand-rolled expiry bookkeeping around `assume_role`
(botocore already refreshes deferred credentials under a lock).
"""

from __future__ import annotations

import threading
from fnmatch import fnmatchcase
from typing import Any

import boto3
import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    DeferredRefreshableCredentials,
)

SESSION_NAME = "logferry"
# Credentials are fetched again this long before they expire (botocore's default: 15 minutes).
REFRESH_BEFORE_SECONDS = 15 * 60


class _AssumedRole(CredentialProvider):
    """A credential provider that only assumes one role, from the base session's identity."""

    METHOD = "assume-role"
    CANONICAL_NAME = "logferry-assume-role"

    def __init__(self, base: boto3.Session, role_arn: str) -> None:
        super().__init__()
        self._fetcher = AssumeRoleCredentialFetcher(
            client_creator=base.client,
            source_credentials=base.get_credentials(),
            role_arn=role_arn,
            extra_args={"RoleSessionName": SESSION_NAME},
            expiry_window_seconds=REFRESH_BEFORE_SECONDS,
        )

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(self._fetcher.fetch_credentials, self.METHOD)


def assumed_session(role_arn: str, base: boto3.Session | None = None) -> boto3.Session:
    """A session whose clients act as `role_arn`, assumed from `base` (the function's own)."""
    base = base or boto3.Session()
    core = botocore.session.Session()
    resolver = core.get_component("credential_provider")
    resolver.insert_before("env", _AssumedRole(base, role_arn))
    return boto3.Session(botocore_session=core, region_name=base.region_name)


class RoleClients:
    """One client per role and service, created when first asked for."""

    def __init__(self, base: boto3.Session | None = None) -> None:
        self._base = base
        self._sessions: dict[str, boto3.Session] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, role_arn: str) -> Any:
        key = (role_arn, service)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                session = self._sessions.get(role_arn)
                if session is None:
                    session = self._sessions[role_arn] = assumed_session(role_arn, self._base)
                client = self._clients[key] = session.client(service)  # type: ignore[call-overload]
            return client


class BucketClients:
    """The S3 client to read each bucket with: a role's (LOGFERRY_SOURCE_ROLE_ARNS) or the
    function's own."""

    def __init__(
        self,
        own: Any,
        roles: tuple[tuple[str, str], ...],
        role_clients: RoleClients | None = None,
    ) -> None:
        self._own = own
        self._roles = roles
        self._role_clients = role_clients or RoleClients()
        self._by_bucket: dict[str, Any] = {}

    def role_for(self, bucket: str) -> str | None:
        return next((arn for pattern, arn in self._roles if fnmatchcase(bucket, pattern)), None)

    def __call__(self, bucket: str) -> Any:
        client = self._by_bucket.get(bucket)
        if client is None:
            role = self.role_for(bucket)
            client = self._own if role is None else self._role_clients.client("s3", role)
            if len(self._by_bucket) < 1024:  # buckets are few; a hostile stream is not
                self._by_bucket[bucket] = client
        return client
