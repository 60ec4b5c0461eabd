"""`logferry ingest` and `logferry setup` against the real local OpenSearch (S3 via moto)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import boto3
import pytest

from logferry import provisioning
from logferry.cli import main
from tests.support import NLB_KEY, nlb_line

pytestmark = pytest.mark.integration


def count(client: Any, prefix: str) -> int:
    client.indices.refresh(index=f"{prefix}-*")
    return int(client.count(index=f"{prefix}-*")["count"])


def test_ingest_local_directory_twice_indexes_each_line_once(
    tmp_path: Path, opensearch_url: str, os_client: Any, index_prefix: str
) -> None:
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(f"{nlb_line(1)}\n{nlb_line(2)}\n".encode()))
    (tmp_path / "b.log").write_text(nlb_line(3) + "\n")
    args = ["ingest", "--opensearch-url", opensearch_url, "--index-prefix", index_prefix]
    assert main([*args, str(tmp_path)]) == 0
    assert main([*args, str(tmp_path)]) == 0
    assert count(os_client, index_prefix) == 3


def test_ingest_s3_prefix_reads_every_object_under_it(
    aws_env: None, opensearch_url: str, os_client: Any, index_prefix: str
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="backfill")
    for n in range(3):
        s3.put_object(
            Bucket="backfill",
            Key=NLB_KEY.replace("a1b2c3d4", f"part{n}"),
            Body=gzip.compress("\n".join(nlb_line(n * 10 + i) for i in range(10)).encode()),
        )
    s3.put_object(Bucket="backfill", Key="elsewhere/ignored.log", Body=b"not under the prefix")
    args = ["ingest", "--opensearch-url", opensearch_url, "--index-prefix", index_prefix]
    assert main([*args, "s3://backfill/AWSLogs/"]) == 0
    assert count(os_client, index_prefix) == 30


def test_ingest_exits_one_when_lines_were_rejected(
    tmp_path: Path, opensearch_url: str, os_client: Any, index_prefix: str
) -> None:
    (tmp_path / "x.log").write_text(f"{nlb_line(1)}\ntls 2.0 broken\n")
    args = ["ingest", "--opensearch-url", opensearch_url, "--index-prefix", index_prefix]
    assert main([*args, "--format", "nlb", str(tmp_path)]) == 1
    assert count(os_client, index_prefix) == 1


def test_setup_twice_changes_nothing(
    opensearch_url: str, os_client: Any, index_prefix: str
) -> None:
    name = provisioning.template_name(index_prefix)
    before = os_client.indices.get_index_template(name=name)
    args = ["setup", "--opensearch-url", opensearch_url, "--index-prefix", index_prefix]
    assert main(args) == 0
    assert main(args) == 0
    after = os_client.indices.get_index_template(name=name)
    assert after == before
    assert len(after["index_templates"]) == 1
