"""A cluster that turns the ingest function away, through the real handler: a wrong password,
a certificate from an unknown authority, an expired certificate. Each time the error names
the cluster and the reason, one request is made per message (no retry storm), the message
goes back to the queue, nothing is dead-lettered, and no credential appears in any output:
log lines, metrics, the batch response, exception messages, dead letters."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from logferry import provisioning
from logferry.config import ClusterAccess
from logferry.output.client import (
    Credentials,
    CredentialsRefused,
    CredentialsUnavailable,
    UntrustedCertificate,
    credentials_from,
    make_client,
    secret_credentials,
)
from tests.integration.test_mail import OBJECT_1
from tests.security.conftest import SecureNode, TlsFront, User, make_certificate
from tests.support import (
    NLB_KEY,
    FakeLambdaContext,
    Wiring,
    emf_sums,
    gz,
    load_ingest_handler,
    nlb_line,
)

pytestmark = pytest.mark.security

DEADLETTERS = "logferry-deadletter"


@dataclass
class Refused:
    response: dict[str, Any]
    records: list[dict[str, Any]]
    seconds: float
    requests: int  # HTTP requests the handler's client made (opensearch-py logs each failure)
    returned: list[str]  # the "object returned to the queue" reasons
    output: str  # everything written: stdout, stderr, every log record, the response
    metrics: dict[str, float]  # the invocation's CloudWatch metrics (EMF on stdout), summed


def ingest_refused(
    env: dict[str, str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> Refused:
    """An NLB object and a mail object, through the real handler signed in with `env`."""
    wiring = Wiring.create()
    boto3.client("s3").create_bucket(Bucket=DEADLETTERS)
    wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(200))))
    wiring.put("maillog/mx1.log", OBJECT_1[1].encode())
    app = load_ingest_handler(
        {
            **env,
            "LOGFERRY_DEADLETTER_BUCKET": DEADLETTERS,
            "LOGFERRY_FORMAT_PREFIXES": "maillog/=postfix",
        }
    )
    records = wiring.receive()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        started = time.monotonic()
        try:
            response = app.lambda_handler({"Records": records}, FakeLambdaContext())
            raised = ""
        except BatchProcessingError as exc:
            # Every record failed: Powertools fails the invocation, so SQS returns them all.
            failures = [{"itemIdentifier": r["messageId"]} for r in records]
            response, raised = {"batchItemFailures": failures}, str(exc)
        seconds = time.monotonic() - started
    out, err = capfd.readouterr()
    requests = [
        r for r in caplog.records if r.name == "opensearch" and r.levelno >= logging.WARNING
    ]
    returned = [
        str(getattr(r, "reason", ""))
        for r in caplog.records
        if r.getMessage() == "object returned to the queue"
    ]
    kept = boto3.client("s3").list_objects_v2(Bucket=DEADLETTERS).get("KeyCount", 0)
    assert kept == 0, "a refusal is no reason to dead-letter anything"
    logs = "\n".join(
        f"{r.getMessage()} {json.dumps(r.__dict__, default=str)}" for r in caplog.records
    )
    return Refused(
        response,
        records,
        seconds,
        len(requests),
        returned,
        "\n".join([out, err, logs, json.dumps(response), raised]),
        emf_sums(out),
    )


def assert_returned_at_once(refused: Refused, node_url: str, reason: str) -> None:
    failed = {item["itemIdentifier"] for item in refused.response["batchItemFailures"]}
    assert failed == {r["messageId"] for r in refused.records}  # both back in the queue
    assert refused.requests == len(refused.records)  # one request each, no retry
    assert refused.seconds < 10
    assert len(refused.returned) == len(refused.records)
    # The invocation failed (every record did), and still says so in its metrics.
    assert refused.metrics["MessagesReturned"] == len(refused.records)
    for why in refused.returned:
        assert f"OpenSearch at {node_url}" in why and reason in why, why


def test_a_wrong_password_returns_the_messages_at_once_naming_the_cluster(
    aws_env: None,
    secure_node: SecureNode,
    users: dict[str, User],
    secured: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = users[provisioning.roles.WRITER_ROLE]
    wrong = f"wrong-{secrets.token_urlsafe(16)}"
    env = {**secure_node.env(writer), "LOGFERRY_OPENSEARCH_PASSWORD": wrong}
    refused = ingest_refused({**env, "LOGFERRY_INDEX_PREFIX": secured.prefix}, capfd, caplog)
    assert_returned_at_once(refused, secure_node.url, "refused the credentials")
    assert "401" in refused.output
    for secret in (wrong, writer.password, secure_node.admin_password):
        assert secret not in refused.output


def test_a_certificate_from_an_unknown_authority_is_refused(
    aws_env: None,
    secure_node: SecureNode,
    users: dict[str, User],
    secured: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The function trusts another CA than the one that signed the node's certificate."""
    other_ca, _ = make_certificate(tmp_path, "some-other-ca")
    writer = users[provisioning.roles.WRITER_ROLE]
    env = {
        **secure_node.env(writer),
        "LOGFERRY_CA_BUNDLE": str(other_ca),
        "LOGFERRY_INDEX_PREFIX": secured.prefix,
    }
    refused = ingest_refused(env, capfd, caplog)
    assert_returned_at_once(refused, secure_node.url, "TLS certificate did not verify")
    assert f"against {other_ca}" in refused.returned[0]
    assert "unable to get local issuer certificate" in refused.returned[0]
    assert writer.password not in refused.output


def test_an_expired_certificate_is_refused(
    aws_env: None,
    secure_node: SecureNode,
    users: dict[str, User],
    secured: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The node behind a TLS front whose certificate, signed by the trusted CA, expired."""
    cert, key = make_certificate(
        tmp_path,
        "expired-node",
        issuer_cert=secure_node.ca_bundle,
        issuer_key=secure_node.ca_key,
        expired=True,
    )
    front = TlsFront(secure_node, cert, key)
    try:
        writer = users[provisioning.roles.WRITER_ROLE]
        env = {
            **secure_node.env(writer),
            "OPENSEARCH_URL": front.url,
            "LOGFERRY_INDEX_PREFIX": secured.prefix,
        }
        refused = ingest_refused(env, capfd, caplog)
        front.settled()
    finally:
        front.close()
    assert_returned_at_once(refused, front.url, "TLS certificate did not verify")
    assert "certificate has expired" in refused.returned[0]
    assert front.connections == front.handshakes_failed == 2  # nothing went through
    assert writer.password not in refused.output


def test_the_tls_front_does_reach_the_node_with_a_valid_certificate(
    secure_node: SecureNode, users: dict[str, User], tmp_path: Path
) -> None:
    """The control for the test above: the same front, a certificate still valid."""
    cert, key = make_certificate(
        tmp_path, "valid-node", issuer_cert=secure_node.ca_bundle, issuer_key=secure_node.ca_key
    )
    front = TlsFront(secure_node, cert, key)
    try:
        client = make_client(front.url, env=secure_node.env())
        assert client.info()["version"]["number"] == "2.19.1"
    finally:
        front.close()


def test_credentials_from_a_secret_are_read_once_per_container(
    aws_env: None,
    secure_node: SecureNode,
    users: dict[str, User],
    secured: Any,
    admin: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """And on the way that works, the password is nowhere either: the handler's JSON log
    lines, its EMF metrics (both on stdout), the library's log records."""
    writer = users[provisioning.roles.WRITER_ROLE]
    secret = boto3.client("secretsmanager").create_secret(
        Name="logferry-opensearch-writer",
        SecretString=json.dumps({"username": writer.name, "password": writer.password}),
    )
    secret_credentials.cache_clear()
    env = {
        "OPENSEARCH_URL": secure_node.url,
        "LOGFERRY_CA_BUNDLE": secure_node.ca_bundle,
        "LOGFERRY_OPENSEARCH_SECRET_ARN": secret["ARN"],
        "LOGFERRY_INDEX_PREFIX": secured.prefix,
    }
    wiring = Wiring.create()
    app = load_ingest_handler(env)
    wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(50))))
    for _ in range(2):  # two invocations of one container
        response = app.lambda_handler({"Records": wiring.receive()}, FakeLambdaContext())
        assert response == {"batchItemFailures": []}
        wiring.put(NLB_KEY.replace("a1b2c3d4", "e5f6a7b8"), gz(nlb_line(99)))
    assert secret_credentials.cache_info().misses == 1
    out, err = capfd.readouterr()
    assert '"DocumentsIndexed"' in out  # the metrics were published
    records = "\n".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    for output in (out, err, records):
        assert writer.password not in output
    admin.indices.refresh(index=f"{secured.prefix}-*")
    assert admin.count(index=f"{secured.prefix}-nlb-*")["count"] == 51
    admin.indices.delete(index=f"{secured.prefix}-*")


# -- the rules, without a cluster ----------------------------------------------------------------


def test_credentials_stay_out_of_reprs_urls_and_messages(aws_env: None) -> None:
    password = secrets.token_urlsafe(16)
    assert password not in repr(Credentials("writer", password, "test"))
    with pytest.raises(ValueError) as in_url:
        make_client(f"https://writer:{password}@127.0.0.1:9201", env={})
    assert password not in str(in_url.value)
    with pytest.raises(ValueError, match="HTTPS only"):
        make_client("http://search.example.com:9200", credentials=Credentials("u", password))
    with pytest.raises(CredentialsUnavailable) as half:
        credentials_from(ClusterAccess.from_env({"LOGFERRY_OPENSEARCH_PASSWORD": password}))
    assert password not in str(half.value)
    bad = boto3.client("secretsmanager").create_secret(
        Name="not-json", SecretString=f"user={password}"
    )
    with pytest.raises(CredentialsUnavailable) as unreadable:
        secret_credentials(bad["ARN"])
    assert password not in str(unreadable.value) and bad["ARN"] in str(unreadable.value)


def test_sigv4_stays_for_aws_endpoints_basic_auth_wins_when_configured(aws_env: None) -> None:
    aws = "https://search-logs-abc.us-east-1.es.amazonaws.com"
    signed = make_client(aws, env={})
    connection = signed.transport.get_connection()
    assert connection.credentials_source.startswith("SigV4")
    basic = make_client(
        aws, env={"LOGFERRY_OPENSEARCH_USERNAME": "u", "LOGFERRY_OPENSEARCH_PASSWORD": "p"}
    )
    assert basic.transport.get_connection().credentials_source.startswith(
        "LOGFERRY_OPENSEARCH_USERNAME"
    )
    forced = make_client(
        "https://search.example.com",
        env={
            "LOGFERRY_SIGV4": "1",
            "LOGFERRY_OPENSEARCH_USERNAME": "u",
            "LOGFERRY_OPENSEARCH_PASSWORD": "p",
        },
    )
    assert forced.transport.get_connection().credentials_source.startswith("SigV4")


def test_a_refusal_is_a_transport_error_with_its_status(
    secure_node: SecureNode, users: dict[str, User]
) -> None:
    """Code that handles opensearch-py's errors by status keeps working."""
    from opensearchpy.exceptions import AuthenticationException

    writer = users[provisioning.roles.WRITER_ROLE]
    client = make_client(
        secure_node.url, env={**secure_node.env(writer), "LOGFERRY_OPENSEARCH_PASSWORD": "x"}
    )
    with pytest.raises(CredentialsRefused) as refused:
        client.info()
    assert isinstance(refused.value, AuthenticationException)
    assert refused.value.status_code == 401
    bundle = make_client(
        secure_node.url,
        env={"LOGFERRY_OPENSEARCH_USERNAME": "u"} | {"LOGFERRY_OPENSEARCH_PASSWORD": "p"},
    )
    with pytest.raises(UntrustedCertificate) as untrusted:  # the system store knows no such CA
        bundle.info()
    assert untrusted.value.status_code == "TLS"
    assert "the system trust store" in str(untrusted.value)
