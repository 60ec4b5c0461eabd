"""Other accounts, in moto: a role assumed into a log-archive account reads its buckets (and
their KMS-encrypted objects); Organizations names accounts, their units and tags; every
document of an AWS log knows its account and region."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from logferry.accounts import BucketClients, RoleClients
from logferry.config import Settings
from logferry.enrich.cloud import CloudFacts, object_account
from logferry.enrich.organizations import Organizations
from logferry.ingest.objects import S3Objects
from logferry.model import ObjectRef

ARCHIVE = "222233334444"
ROLE = f"arn:aws:iam::{ARCHIVE}:role/logferry-read-archive"
OTHER_ROLE = f"arn:aws:iam::{ARCHIVE}:role/logferry-read-other"


@pytest.fixture
def base(aws_env: None) -> boto3.Session:
    return boto3.Session(region_name="us-east-1")


def calls(session: boto3.Session, operation: str) -> list[str]:
    """Every `operation` (e.g. "sts.AssumeRole") of the clients `session` makes from now on."""
    seen: list[str] = []
    session.events.register(f"before-call.{operation}", lambda **kw: seen.append(operation))
    return seen


def as_archive(base: boto3.Session) -> boto3.Session:
    """The log-archive account's own administrator (moto: assume any role of it)."""
    found = base.client("sts").assume_role(RoleArn=ROLE, RoleSessionName="archive-admin")
    creds = found["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def test_a_role_client_acts_as_the_role_in_its_account(base: boto3.Session) -> None:
    identity = RoleClients(base).client("sts", ROLE).get_caller_identity()
    assert identity["Account"] == ARCHIVE
    assert identity["Arn"] == f"arn:aws:sts::{ARCHIVE}:assumed-role/logferry-read-archive/logferry"


def test_one_role_is_assumed_once_for_all_its_clients(base: boto3.Session) -> None:
    assumed = calls(base, "sts.AssumeRole")
    roles = RoleClients(base)
    for _ in range(3):
        roles.client("s3", ROLE).list_buckets()
        roles.client("kms", ROLE).list_keys()
    assert roles.client("s3", ROLE) is roles.client("s3", ROLE)
    assert len(assumed) == 1
    roles.client("s3", OTHER_ROLE).list_buckets()
    assert len(assumed) == 2


def test_buckets_are_read_with_the_first_matching_role_or_the_own_client(
    base: boto3.Session,
) -> None:
    own = base.client("s3")
    roles = RoleClients(base)
    clients = BucketClients(own, (("org-log-*", ROLE), ("*-archive", OTHER_ROLE)), roles)
    assert clients.role_for("org-log-archive") == ROLE  # both match: the first wins
    assert clients.role_for("old-archive") == OTHER_ROLE
    assert clients.role_for("my-logs") is None
    assert clients("my-logs") is own
    assert clients("org-log-archive") is roles.client("s3", ROLE)


def test_an_encrypted_object_of_the_archive_account_is_read_through_its_role(
    base: boto3.Session,
) -> None:
    archive = as_archive(base)
    key_id = archive.client("kms").create_key(Description="log archive")["KeyMetadata"]["KeyId"]
    s3 = archive.client("s3")
    s3.create_bucket(Bucket="org-log-archive")
    body = gzip.compress(b"line one\nline two\n")
    s3.put_object(
        Bucket="org-log-archive",
        Key="AWSLogs/x.log.gz",
        Body=body,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_id,
    )
    signed_with: list[str] = []
    objects = S3Objects.reading(base.client("s3"), (("org-log-*", ROLE),))
    objects.client("org-log-archive").meta.events.register(
        "before-send.s3.GetObject",
        lambda request, **kw: signed_with.append(request.headers["Authorization"].decode()),
    )
    opened = objects.open(ObjectRef("org-log-archive", "AWSLogs/x.log.gz"))
    assert opened.stream.read() == body
    # Signed with the role's temporary credentials, not the function's own ("testing").
    [authorization] = signed_with
    assert "Credential=testing/" not in authorization
    assert "Credential=ASIA" in authorization


def test_source_settings_are_checked_at_start() -> None:
    settings = Settings.from_env(
        {
            "LOGFERRY_SOURCE_ROLE_ARNS": f"org-log-*={ROLE}, legacy={OTHER_ROLE}",
            "LOGFERRY_ACCOUNT_PREFIXES": "cf/=111122223333,cf/eu/=444455556666:eu-west-1",
        }
    )
    assert settings.source_role_arns == (("org-log-*", ROLE), ("legacy", OTHER_ROLE))
    assert settings.account_prefixes[0] == ("cf/eu/", "444455556666", "eu-west-1")
    for name, value in (
        ("LOGFERRY_SOURCE_ROLE_ARNS", "org-log-archive"),
        ("LOGFERRY_SOURCE_ROLE_ARNS", "b=arn:aws:iam::12:role/x"),
        ("LOGFERRY_ACCOUNT_PREFIXES", "cf/=1111"),
        ("LOGFERRY_ACCOUNT_PREFIXES", "cf/=111122223333:moon-1"),
        ("LOGFERRY_ORGANIZATIONS_ROLE_ARN", "organizations-reader"),
    ):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})


# -- Organizations ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def organization(aws_env: None) -> Iterator[tuple[Any, str]]:
    """An organization with Root/Workloads/Prod and one tagged account in it."""
    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    workloads = client.create_organizational_unit(ParentId=root, Name="Workloads")
    prod = client.create_organizational_unit(
        ParentId=workloads["OrganizationalUnit"]["Id"], Name="Prod"
    )
    created = client.create_account(
        AccountName="payments-prod",
        Email="payments@example.com",
        Tags=[{"Key": "team", "Value": "payments"}, {"Key": "cost.center", "Value": "42"}],
    )
    account = created["CreateAccountStatus"]["AccountId"]
    client.move_account(
        AccountId=account,
        SourceParentId=root,
        DestinationParentId=prod["OrganizationalUnit"]["Id"],
    )
    yield client, account


def test_an_account_s_name_unit_path_and_tags(organization: tuple[Any, str]) -> None:
    client, account = organization
    facts = Organizations(client).facts(account)
    assert facts is not None
    assert facts.name == "payments-prod"
    assert facts.ou_path == "Root/Workloads/Prod"
    assert facts.tags == {"team": "payments", "cost_center": "42"}


def test_facts_are_asked_for_once_an_hour(organization: tuple[Any, str]) -> None:
    client, account = organization
    asked = calls_on(client, "organizations.ListTagsForResource")
    clock = Clock()
    organizations = Organizations(client, clock=clock)
    for _ in range(100):
        organizations.facts(account)
    assert len(asked) == 1
    clock.now = 3599
    organizations.facts(account)
    assert len(asked) == 1
    clock.now = 3601
    organizations.facts(account)
    assert len(asked) == 2


def calls_on(client: Any, operation: str) -> list[str]:
    seen: list[str] = []
    client.meta.events.register(f"before-call.{operation}", lambda **kw: seen.append(operation))
    return seen


def test_an_account_outside_the_organization_has_no_facts(organization: tuple[Any, str]) -> None:
    client, _ = organization
    assert Organizations(client).facts("999988887777") is None


def test_a_refused_lookup_gives_no_facts_and_does_not_raise(
    organization: tuple[Any, str],
) -> None:
    client, account = organization
    from botocore.exceptions import ClientError

    def refuse(**kwargs: Any) -> None:
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not the management"}}
        raise ClientError(error, "ListAccounts")  # type: ignore[arg-type]

    client.meta.events.register("before-call.organizations.ListAccounts", refuse)
    assert Organizations(client).facts(account) is None


# -- cloud.* on documents -----------------------------------------------------------------


def test_the_object_s_account_and_region_fill_what_the_record_lacks(
    organization: tuple[Any, str],
) -> None:
    client, account = organization
    fill = CloudFacts(account, "eu-west-1", Organizations(client))
    bare: dict[str, Any] = {"@timestamp": "2026-11-20T12:00:00Z", "aws": {"alb": {}}}
    fill(bare)
    assert bare["cloud"] == {
        "provider": "aws",
        "account": {"id": account, "name": "payments-prod"},
        "region": "eu-west-1",
    }
    assert bare["aws"]["organization"] == {
        "ou_path": "Root/Workloads/Prod",
        "tags": {"team": "payments", "cost_center": "42"},
    }
    # A record's own account and region are kept; what it lacks is added.
    other = "999988887777"
    own: dict[str, Any] = {"cloud": {"account": {"id": other}}}
    fill(own)
    assert own["cloud"] == {"account": {"id": other}, "provider": "aws", "region": "eu-west-1"}
    assert "aws" not in own  # that account is not in the organization
    regional: dict[str, Any] = {"cloud": {"region": "us-east-2"}}
    fill(regional)
    assert regional["cloud"]["region"] == "us-east-2"
    assert regional["cloud"]["account"]["id"] == account


def test_without_an_account_a_document_still_says_aws() -> None:
    fill = CloudFacts(None, None)
    doc: dict[str, Any] = {}
    fill(doc)
    assert doc == {"cloud": {"provider": "aws"}}


def test_the_configured_prefix_places_objects_whose_key_states_no_account() -> None:
    prefixes = (
        ("cloudfront/eu/", "444455556666", "eu-west-1"),
        ("cloudfront/", "111122223333", None),
    )
    assert object_account("cloudfront/eu/E2ABCDEFGHIJKL.2026-11-20-12.a1b2c3d4.gz", prefixes) == (
        "444455556666",
        "eu-west-1",
    )
    assert object_account("cloudfront/E2ABCDEFGHIJKL.2026-11-20-12.a1b2c3d4.gz", prefixes) == (
        "111122223333",
        None,
    )
    # The key's own layout wins over a prefix.
    key = "cloudfront/AWSLogs/777788889999/elasticloadbalancing/us-east-2/2026/11/20/x.log.gz"
    assert object_account(key, prefixes) == ("777788889999", "us-east-2")


def test_a_refused_listing_is_tried_again_after_a_pause_not_per_account(
    organization: tuple[Any, str],
) -> None:
    client, account = organization
    from botocore.exceptions import ClientError

    from logferry.enrich.organizations import RETRY_SECONDS

    listed = calls_on(client, "organizations.ListAccounts")
    refusing = [True]

    def refuse(**kwargs: Any) -> None:
        if refusing[0]:
            error = {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}
            raise ClientError(error, "ListAccounts")  # type: ignore[arg-type]

    client.meta.events.register("before-call.organizations.ListAccounts", refuse)
    clock = Clock()
    organizations = Organizations(client, clock=clock)
    for n in range(50):  # a stream of accounts met while the listing is refused
        assert organizations.facts(f"{n:012d}") is None
    assert len(listed) == 1
    refusing[0] = False
    clock.now = RETRY_SECONDS + 1
    facts = organizations.facts(account)
    assert facts is not None and facts.name == "payments-prod"
    assert len(listed) == 2
