"""The OpenSearch client: plain HTTP locally, SigV4-signed for Amazon OpenSearch Service."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth, Urllib3HttpConnection

# Connections kept open to the cluster: the sink's requests in flight (at most
# config.MAX_BULK_CONCURRENCY) plus the caller's own (the mail merger's reads and writes).
# urllib3 keeps one by default: a second request at the same time would open a connection and
# close it afterwards, every time. The client is safe to share between threads.
POOL_MAXSIZE = 10


def make_client(url: str, *, timeout: float = 60.0, pool_maxsize: int = POOL_MAXSIZE) -> OpenSearch:
    """A client for `url`; AWS endpoints (*.amazonaws.com) are signed with the caller's role.

    Retries are the sink's job (with backoff and a time budget), so the client makes none.
    """
    parsed = urlparse(url if "://" in url else f"https://{url}")
    host = parsed.hostname or ""
    auth = None
    if needs_sigv4(host):
        import boto3

        session = boto3.Session()
        service = "aoss" if ".aoss." in host else "es"
        auth = Urllib3AWSV4SignerAuth(session.get_credentials(), signing_region(session), service)
    return OpenSearch(
        hosts=[{"host": host, "port": parsed.port or (443 if parsed.scheme == "https" else 80)}],
        use_ssl=parsed.scheme == "https",
        verify_certs=parsed.scheme == "https",
        http_auth=auth,
        connection_class=Urllib3HttpConnection,
        timeout=timeout,
        max_retries=0,
        pool_maxsize=pool_maxsize,
    )


def needs_sigv4(host: str) -> bool:
    """AWS endpoints are signed; LOGFERRY_SIGV4=1 forces it for a custom domain name."""
    return host.endswith(".amazonaws.com") or os.environ.get("LOGFERRY_SIGV4") == "1"


def signing_region(session: Any) -> str:
    """The region requests are signed for: the Lambda's own, else the session's."""
    return os.environ.get("AWS_REGION") or session.region_name or "us-east-1"
