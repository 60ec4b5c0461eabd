"""The OpenSearch client: SigV4-signed for Amazon OpenSearch Service, HTTP basic auth for
clusters with the security plugin's own users, plain HTTP for the local development node.

HTTPS is verified: against the CA bundle LOGFERRY_CA_BUNDLE when set, otherwise the system's
trust store. Basic-auth credentials come from a Secrets Manager secret
(LOGFERRY_OPENSEARCH_SECRET_ARN: JSON with `username` and `password`, read once per process,
so once per Lambda container) or, on a workstation, from LOGFERRY_OPENSEARCH_USERNAME and
LOGFERRY_OPENSEARCH_PASSWORD. Credentials never leave this module except in the Authorization
header: not in a URL, a log line, an exception message or a repr.

A cluster that turns the caller away for a reason no retry fixes (credentials refused,
permission denied, a certificate that does not verify) raises ClusterRefused, naming the
cluster and the reason: the sink then returns the message to the queue at once instead of
retrying, splitting or dead-lettering documents.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth, Urllib3HttpConnection
from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    SSLError,
    TransportError,
)

from ..config import ClusterAccess

# Connections kept open to the cluster: the sink's requests in flight (at most
# config.MAX_BULK_CONCURRENCY) plus the caller's own (the mail merger's reads and writes).
# urllib3 keeps one by default: a second request at the same time would open a connection and
# close it afterwards, every time. The client is safe to share between threads.
POOL_MAXSIZE = 10

CA_BUNDLE_ENV = "LOGFERRY_CA_BUNDLE"
SECRET_ENV = "LOGFERRY_OPENSEARCH_SECRET_ARN"
USERNAME_ENV = "LOGFERRY_OPENSEARCH_USERNAME"
PASSWORD_ENV = "LOGFERRY_OPENSEARCH_PASSWORD"
# Hosts basic-auth credentials may travel to unencrypted (a local development cluster).
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


# -- refusals ---------------------------------------------------------------------------------


class ClusterRefused(TransportError):
    """The cluster turned us away and trying again will not help until someone changes the
    configuration (credentials, role mapping, CA bundle). The message names the cluster."""

    def __str__(self) -> str:
        return str(self.args[1])


class CredentialsRefused(ClusterRefused, AuthenticationException):
    """401: the credentials were refused (or none were sent)."""


class AccessDenied(ClusterRefused, AuthorizationException):
    """403: authenticated, but the roles mapped to the caller do not allow the request."""


class UntrustedCertificate(ClusterRefused):
    """The cluster's TLS certificate did not verify (expired, unknown CA, wrong host name)."""


def _opensearch_reason(exc: TransportError) -> str:
    info = exc.info
    if isinstance(info, dict):
        error = info.get("error")
        if isinstance(error, dict):
            return f"{error.get('type', 'error')}: {error.get('reason', '')}"
        if error:
            return str(error)
    return str(exc.error)


def _verify_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind a TLS failure, if that is what it was (an
    EOF in the middle of a handshake is a connection problem, worth retrying)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


class RefusingConnection(Urllib3HttpConnection):
    """opensearch-py's urllib3 connection; refusals come out as ClusterRefused, saying where
    the credentials came from and what the certificate was checked against."""

    def __init__(
        self,
        *,
        credentials_source: str = "no credentials",
        trust: str = "the system trust store",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.credentials_source = credentials_source
        self.trust = trust

    def perform_request(self, *args: Any, **kwargs: Any) -> Any:
        where = f"OpenSearch at {self.host}"
        try:
            return super().perform_request(*args, **kwargs)
        except AuthenticationException as exc:
            raise CredentialsRefused(
                exc.status_code,
                f"{where} refused the credentials ({self.credentials_source}): 401"
                f" {_opensearch_reason(exc)}",
                exc.info,
            ) from None
        except AuthorizationException as exc:
            raise AccessDenied(
                exc.status_code,
                f"{where} denied the request: 403 {_opensearch_reason(exc)}",
                exc.info,
            ) from None
        except SSLError as exc:
            failure = _verify_failure(exc)
            if failure is None:
                raise
            raise UntrustedCertificate(
                "TLS",
                f"{where}: its TLS certificate did not verify against {self.trust}:"
                f" {failure.verify_message or failure.reason}",
                None,
            ) from None


# -- credentials and trust --------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """HTTP basic-auth credentials; the password stays out of reprs and messages."""

    username: str
    password: str = field(repr=False)
    source: str = ""


class CredentialsUnavailable(RuntimeError):
    """The configured credentials could not be read (the message never holds a secret)."""


@functools.cache
def secret_credentials(secret_arn: str) -> Credentials:
    """The username and password kept in a Secrets Manager secret, read once per process."""
    import boto3

    try:
        text = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    except Exception as exc:
        raise CredentialsUnavailable(f"cannot read the secret {secret_arn}: {exc}") from None
    try:
        value = json.loads(text)
        username, password = value["username"], value["password"]
    except (ValueError, TypeError, KeyError):
        value = username = password = None
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise CredentialsUnavailable(
            f"the secret {secret_arn} is not JSON with a `username` and a `password`"
        )
    return Credentials(username, password, f"the secret {secret_arn}")


def credentials_from(access: ClusterAccess) -> Credentials | None:
    """Basic-auth credentials configured in `access`: the secret first, then the two variables."""
    if access.secret_arn:
        return secret_credentials(access.secret_arn)
    username, password = access.username, access.password
    if username or password:
        if not (username and password):
            raise CredentialsUnavailable(f"set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither")
        return Credentials(username, password, f"{USERNAME_ENV}/{PASSWORD_ENV}")
    return None


def tls_context(ca_bundle: str = "") -> ssl.SSLContext:
    """Verification against `ca_bundle` (a PEM file), else the system's trust store (certifi's
    bundle when the system has none)."""
    if ca_bundle:
        try:
            return ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"{CA_BUNDLE_ENV}: cannot load {ca_bundle}: {exc}") from None
    context = ssl.create_default_context()
    if not context.cert_store_stats().get("x509_ca"):
        try:
            import certifi

            context.load_verify_locations(cafile=certifi.where())
        except ImportError:
            pass
    return context


# -- the client ---------------------------------------------------------------------------------


def make_client(
    url: str,
    *,
    timeout: float = 60.0,
    pool_maxsize: int = POOL_MAXSIZE,
    credentials: Credentials | None = None,
    access: ClusterAccess | None = None,
    env: Mapping[str, str] | None = None,
) -> OpenSearch:
    """A client for `url`. Credentials, given or configured in `env` (default: the process
    environment), sign in with basic auth; without them AWS endpoints (*.amazonaws.com, or
    LOGFERRY_SIGV4=1) are signed with the caller's role.

    Retries are the sink's job (with backoff and a time budget), so the client makes none.
    """
    access = access or ClusterAccess.from_env(env)
    parsed = urlparse(url if "://" in url else f"https://{url}")
    if parsed.username is not None or parsed.password is not None:
        raise ValueError(
            f"the OpenSearch URL must not carry credentials: use {SECRET_ENV}, or"
            f" {USERNAME_ENV} and {PASSWORD_ENV}"
        )
    host = parsed.hostname or ""
    https = parsed.scheme == "https"
    # Given credentials, then LOGFERRY_SIGV4=1, then configured credentials (a domain's
    # internal users, its master user), then SigV4 for AWS endpoints.
    if credentials is None and not access.sigv4:
        credentials = credentials_from(access)
    auth: Any = None
    source = "no credentials"
    if credentials is not None:
        if not https and host not in LOOPBACK:
            raise ValueError(
                f"credentials are sent over HTTPS only (or to this machine): {url} is plain HTTP"
            )
        auth = (credentials.username, credentials.password)
        source = credentials.source or "the credentials given"
    elif needs_sigv4(host, access):
        import boto3

        session = boto3.Session()
        service = signing_service(host, access)
        region = signing_region(session, access)
        auth = Urllib3AWSV4SignerAuth(session.get_credentials(), region, service)
        source = "SigV4, the caller's AWS role"
    ca_bundle = access.ca_bundle
    options: dict[str, Any] = {}
    if https:
        options["ssl_context"] = tls_context(ca_bundle)
    return OpenSearch(
        hosts=[
            {
                "host": host,
                "port": parsed.port or (443 if https else 80),
                "credentials_source": source,
                "trust": ca_bundle or "the system trust store",
            }
        ],
        use_ssl=https,
        http_auth=auth,
        connection_class=RefusingConnection,
        timeout=timeout,
        max_retries=0,
        pool_maxsize=pool_maxsize,
        **options,
    )


def needs_sigv4(host: str, access: ClusterAccess) -> bool:
    """AWS endpoints are signed; LOGFERRY_SIGV4=1 forces it for a custom domain name."""
    return host.endswith(".amazonaws.com") or access.sigv4


def signing_service(host: str, access: ClusterAccess) -> str:
    """`aoss` for OpenSearch Serverless (its endpoint, or LOGFERRY_TARGET=aoss behind a custom
    name), `es` for a domain."""
    return "aoss" if ".aoss." in host or access.serverless else "es"


def signing_region(session: Any, access: ClusterAccess) -> str:
    """The region requests are signed for: the Lambda's own, else the session's."""
    return access.region or session.region_name or "us-east-1"
