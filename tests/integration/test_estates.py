"""A real AWS estate, in moto and the real local OpenSearch: a log-archive account holds the logs
of the organization's accounts; the handler reads them through the role the archive lends it,
and every document knows its account, region and organization."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from typing import Any

import boto3
import pytest

from logferry.accounts import assumed_session
from tests.support import FakeLambdaContext, Setup, s3_notification, sqs_record
from tools.bench.generators.alb import alb_lines

pytestmark = pytest.mark.integration

ARCHIVE = "222233334444"
ROLE = f"arn:aws:iam::{ARCHIVE}:role/logferry-read-archive"
BUCKET = "org-log-archive"
ALB_KEY = (
    "AWSLogs/{account}/elasticloadbalancing/eu-west-1/2026/11/20/{account}_elasticloadbalancing"
    "_eu-west-1_app.prod-web-alb.50dc6c495c0c9188_20261120T1205Z_10.0.0.5_{name}.log.gz"
)
VPC_KEY = (
    "AWSLogs/{account}/vpcflowlogs/eu-west-1/2026/11/20/{account}_vpcflowlogs_eu-west-1"
    "_fl-0123456789abcdef0_20261120T1205Z_{name}.log.gz"
)
SHARED_VPC_OWNER = "888899990000"  # the account of the interfaces, not of the flow log


def organization() -> dict[str, str]:
    """This account manages an organization: name -> id of its two workload accounts."""
    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    unit = client.create_organizational_unit(ParentId=root, Name="Workloads")
    unit_id = unit["OrganizationalUnit"]["Id"]
    accounts = {}
    for name in ("payments-prod", "search-prod"):
        status = client.create_account(
            AccountName=name, Email=f"{name}@example.com", Tags=[{"Key": "team", "Value": name}]
        )["CreateAccountStatus"]
        client.move_account(
            AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=unit_id
        )
        accounts[name] = status["AccountId"]
    return accounts


def vpc_body(lines: int) -> bytes:
    records = [
        f"2 {SHARED_VPC_OWNER} eni-0a1b2c3d 10.0.0.{n + 1} 10.0.1.5 49152 443 6 10 840"
        f" {1795694400 + n} {1795694460 + n} ACCEPT OK"
        for n in range(lines)
    ]
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets"
    header += " bytes start end action log-status"
    return gzip.compress(("\n".join([header, *records]) + "\n").encode())


def ingest(setup: Setup, keys: list[str], **env: str) -> list[Any]:
    app = setup.container(
        LOGFERRY_SOURCE_BUCKETS=f"{BUCKET},{setup.wiring.bucket}",
        LOGFERRY_SOURCE_ROLE_ARNS=f"org-log-*={ROLE}",
        **env,
    )
    records = [sqs_record(s3_notification(BUCKET, key), f"m-{n}") for n, key in enumerate(keys)]
    response = app.lambda_handler({"Records": records}, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    return list(app.service.results)


def accounts_indexed(client: Any, prefix: str) -> dict[str, int]:
    client.indices.refresh(index=f"{prefix}-*")
    body = {"size": 0, "aggs": {"a": {"terms": {"field": "cloud.account.id", "size": 20}}}}
    found = client.search(index=f"{prefix}-*", body=body)
    return {row["key"]: row["doc_count"] for row in found["aggregations"]["a"]["buckets"]}


def test_the_archive_s_objects_are_read_through_its_role_and_placed_in_their_accounts(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    accounts = organization()
    archive = assumed_session(ROLE)  # the archive account's own administrator
    key_id = archive.client("kms").create_key()["KeyMetadata"]["KeyId"]
    s3 = archive.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="not-a-source")
    keys = []
    for n, account in enumerate(accounts.values()):
        key = ALB_KEY.format(account=account, name=f"alb{n}")
        lines = "\n".join(itertools.islice(alb_lines(random.Random(n), 150), 150)) + "\n"
        s3.put_object(
            Bucket=BUCKET,
            Key=key,
            Body=gzip.compress(lines.encode()),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key_id,
        )
        keys.append(key)
    vpc_key = VPC_KEY.format(account=accounts["payments-prod"], name="vpc")
    s3.put_object(Bucket=BUCKET, Key=vpc_key, Body=vpc_body(40))
    keys.append(vpc_key)

    results = ingest(setup, keys, LOGFERRY_ORGANIZATIONS="1")
    assert [r.outcome for r in results] == ["indexed"] * 3
    assert accounts_indexed(os_client, index_prefix) == {
        accounts["payments-prod"]: 150,
        accounts["search-prod"]: 150,
        SHARED_VPC_OWNER: 40,  # the record's account, not the key's
    }
    found = os_client.search(
        index=f"{index_prefix}-alb-*",
        body={"size": 1, "query": {"term": {"cloud.account.name": "search-prod"}}},
    )
    assert found["hits"]["total"]["value"] == 150
    doc = found["hits"]["hits"][0]["_source"]
    assert doc["cloud"] == {
        "provider": "aws",
        "account": {"id": accounts["search-prod"], "name": "search-prod"},
        "region": "eu-west-1",
    }
    assert doc["aws"]["organization"] == {
        "ou_path": "Root/Workloads",
        "tags": {"team": "search-prod"},
    }
    # What docs/analysts.md tells analysts to type, for one organizational unit.
    unit = {"query_string": {"query": "aws.organization.ou_path:Root\\/Workloads*"}}
    by_unit = os_client.count(index=f"{index_prefix}-*", body={"query": unit})
    assert by_unit["count"] == 300
    vpc = os_client.search(index=f"{index_prefix}-vpcflow-*", body={"size": 1})["hits"]["hits"]
    assert vpc[0]["_source"]["cloud"] == {
        "account": {"id": SHARED_VPC_OWNER},
        "provider": "aws",
        "region": "eu-west-1",  # from the key: the record's version 2 fields have none
    }

    # A bucket of the same account that is not a configured source is refused, not read.
    s3.put_object(Bucket="not-a-source", Key=keys[0], Body=b"x")
    app = setup.container(
        LOGFERRY_SOURCE_BUCKETS=f"{BUCKET},{setup.wiring.bucket}",
        LOGFERRY_SOURCE_ROLE_ARNS=f"org-log-*={ROLE}",
    )
    body = s3_notification("not-a-source", keys[0])
    app.lambda_handler({"Records": [sqs_record(body)]}, FakeLambdaContext())
    [refused] = app.service.results
    assert refused.outcome == "refused"
    # The archive is read with the role's client, other buckets with the function's own.
    objects = app.service.pipeline.objects
    assert objects.client(BUCKET) is not app.s3
    assert objects.client(setup.wiring.bucket) is app.s3


def test_a_file_parsed_under_an_awslogs_path_gets_its_account(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from logferry import cli

    path = tmp_path / ALB_KEY.format(account="111122223333", name="local")
    path.parent.mkdir(parents=True)
    path.write_bytes(
        gzip.compress(
            ("\n".join(itertools.islice(alb_lines(random.Random(7), 3), 3)) + "\n").encode()
        )
    )
    assert cli.main(["parse", str(path)]) == 0
    docs = [json.loads(line)["_source"] for line in capsys.readouterr().out.splitlines()]
    assert len(docs) == 3
    assert {d["cloud"]["account"]["id"] for d in docs} == {"111122223333"}
    assert {d["cloud"]["region"] for d in docs} == {"eu-west-1"}
