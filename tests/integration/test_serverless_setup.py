"""`logferry setup` for an OpenSearch Serverless collection: the index template (mappings only)
on the real local cluster, the retention as a data lifecycle policy through the Serverless
control plane (botocore's Stubber holds the calls to AWS's own API model: moto has no lifecycle
policies), and what a collection lacks said, not attempted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from logferry import provisioning
from logferry.config import Settings
from logferry.provisioning.serverless import lifecycle_policy

pytestmark = pytest.mark.integration

VERSION = "MTY5MDAwMDAwMDAwMF8x"  # an opaque token of 20 or more characters


@pytest.fixture
def control_plane() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "opensearchserverless",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_setup_writes_mappings_and_a_lifecycle_policy_once(
    os_client: Any, index_prefix: str, control_plane: tuple[Any, Stubber]
) -> None:
    client, stubber = control_plane
    settings = Settings(
        index_prefix=index_prefix, target="aoss", aoss_collection="logs", retention_days=90
    )
    name = f"{index_prefix}-retention"
    wanted = {
        "Rules": [
            {
                "ResourceType": "index",
                "Resource": [f"index/logs/{index_prefix}-*"],
                "MinIndexRetention": "90d",
            }
        ]
    }
    assert lifecycle_policy(settings) == wanted
    identifiers = [{"name": name, "type": "retention"}]
    stubber.add_response(
        "batch_get_lifecycle_policy", {"lifecyclePolicyDetails": []}, {"identifiers": identifiers}
    )
    stubber.add_response(
        "create_lifecycle_policy",
        {"lifecyclePolicyDetail": {"name": name, "type": "retention"}},
        {
            "name": name,
            "type": "retention",
            "policy": json.dumps(wanted),
            "description": f"logferry: keep {index_prefix}-* for 90 days",
        },
    )
    done = provisioning.apply(os_client, settings, serverless=client)
    assert f"Serverless lifecycle policy {name}: created (90 days)" in done
    assert any("no ISM" in line and "no monitors" in line for line in done)
    template = os_client.indices.get_index_template(name=provisioning.template_name(index_prefix))
    body = template["index_templates"][0]["index_template"]["template"]
    assert "settings" not in body  # a collection refuses shard and codec settings
    assert body["mappings"]["properties"]["source"]["properties"]["ip"] == {"type": "ip"}

    # Applied again with the same policy: nothing written.
    existing = {"name": name, "type": "retention", "policyVersion": VERSION, "policy": wanted}
    stubber.add_response(
        "batch_get_lifecycle_policy",
        {"lifecyclePolicyDetails": [existing]},
        {"identifiers": identifiers},
    )
    again = provisioning.apply(os_client, settings, serverless=client)
    assert f"Serverless lifecycle policy {name}: unchanged (90 days)" in again

    # A new retention updates it, at the version it has.
    longer = Settings(
        index_prefix=index_prefix, target="aoss", aoss_collection="logs", retention_days=180
    )
    stubber.add_response(
        "batch_get_lifecycle_policy",
        {"lifecyclePolicyDetails": [existing]},
        {"identifiers": identifiers},
    )
    stubber.add_response(
        "update_lifecycle_policy",
        {"lifecyclePolicyDetail": {"name": name, "type": "retention"}},
        {
            "name": name,
            "type": "retention",
            "policyVersion": VERSION,
            "policy": json.dumps(lifecycle_policy(longer)),
        },
    )
    updated = provisioning.apply(os_client, longer, serverless=client)
    assert f"Serverless lifecycle policy {name}: updated (180 days)" in updated
