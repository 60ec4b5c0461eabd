"""The account, region and day AWS's key layouts state, and nothing they do not."""

from __future__ import annotations

from datetime import date

import pytest

from logferry.awskeys import NOTHING, KeyFacts, key_facts

ACCOUNT = "111122223333"


@pytest.mark.parametrize(
    ("key", "facts"),
    [
        (
            f"AWSLogs/{ACCOUNT}/elasticloadbalancing/eu-west-1/2024/01/15/{ACCOUNT}"
            "_elasticloadbalancing_eu-west-1_app.web.50dc6c495c0c9188_20240115T1340Z"
            "_10.0.0.1_2et2e1mx.log.gz",
            KeyFacts(ACCOUNT, "eu-west-1", date(2024, 1, 15)),
        ),
        (  # an organization trail
            f"prefix/AWSLogs/o-exampleorgid/{ACCOUNT}/CloudTrail/us-gov-west-1/2024/02/29/x.json.gz",
            KeyFacts(ACCOUNT, "us-gov-west-1", date(2024, 2, 29)),
        ),
        (  # WAF: the ACL's name sits between the region and the day
            f"AWSLogs/{ACCOUNT}/WAFLogs/us-east-1/my-acl/2024/01/15/10/05/x.log.gz",
            KeyFacts(ACCOUNT, "us-east-1", date(2024, 1, 15)),
        ),
        (  # a CloudFront web ACL: "cloudfront" is no region
            f"AWSLogs/{ACCOUNT}/WAFLogs/cloudfront/my-acl/2024/01/15/10/05/x.log.gz",
            KeyFacts(ACCOUNT, None, date(2024, 1, 15)),
        ),
        (
            f"AWSLogs/aws-account-id={ACCOUNT}/aws-service=vpcflowlogs/aws-region=ap-south-1/"
            "year=2024/month=03/day=09/hour=10/x.log.gz",
            KeyFacts(ACCOUNT, "ap-south-1", date(2024, 3, 9)),
        ),
        (  # a file downloaded out of its prefix keeps its name
            f"downloads/{ACCOUNT}_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz",
            KeyFacts(ACCOUNT, "us-east-1", date(2018, 6, 20)),
        ),
        (  # S3 server access logs, date-based partitioning
            f"s3-logs/{ACCOUNT}/eu-central-2/my-bucket/2024/01/15/2024-01-15-10-11-12-0123456789ABCDEF",
            KeyFacts(ACCOUNT, "eu-central-2", date(2024, 1, 15)),
        ),
        (
            f"AWSLogs/{ACCOUNT}/CloudFront/E2ABCDEFGHIJKL.2024-01-15-13.abcd1234.gz",
            KeyFacts(ACCOUNT, None, date(2024, 1, 15)),
        ),
        ("cf/E2ABCDEFGHIJKL.2024-01-15-13.abcd1234.gz", KeyFacts(None, None, date(2024, 1, 15))),
        ("s3logs/2024-01-15-10-11-12-0123456789ABCDEF", KeyFacts(None, None, date(2024, 1, 15))),
        (f"AWSLogs/{ACCOUNT}/x/us-east-1/2024/02/31/y", KeyFacts(ACCOUNT, "us-east-1", None)),
        (
            f"AWSLogs/{ACCOUNT}/network-firewall/alert/eu-west-1/edge-fw/2024/01/15/10/"
            f"{ACCOUNT}_network-firewall_alert_edge-fw_20240115T1000Z_a1b2c3d4.log.gz",
            KeyFacts(ACCOUNT, "eu-west-1", date(2024, 1, 15)),
        ),
        (  # Route 53 Resolver: the VPC where the region would be
            f"AWSLogs/{ACCOUNT}/vpcdnsquerylogs/vpc-0123456789abcdef0/2024/01/15/"
            f"{ACCOUNT}_vpcdnsquerylogs_vpc-0123456789abcdef0_20240115T1000Z_a1b2c3d4.log.gz",
            KeyFacts(ACCOUNT, None, date(2024, 1, 15)),
        ),
        ("mail/maillog-2024.gz", NOTHING),
        ("orders/123456789012/2024/01/15/report.csv", NOTHING),
    ],
)
def test_a_key_states_what_its_layout_states(key: str, facts: KeyFacts) -> None:
    assert key_facts(key) == facts
