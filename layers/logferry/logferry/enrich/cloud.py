"""Account and region on every document AWS wrote: `cloud.provider`, `cloud.account.id`,
`cloud.region` (and, with Organizations, the account's name, organizational unit and tags).

Where they come from, in order: the record itself (CloudTrail's recipient account and region,
VPC flow's account-id and region, WAF's web ACL), else the object's key layout
(logferry.awskeys: `AWSLogs/<account>/<service>/<region>/`, AWS's file names, S3 access logs'
partitions), else the configured key prefix (LOGFERRY_ACCOUNT_PREFIXES, for CloudFront and S3
access logs delivered under a prefix of the operator's choosing). A record's own value is never
overwritten: in a log-archive bucket the key names the account that delivered the object, the
record the account it is about.

Invariants: the object's facts are worked out once per object, and its documents share one
read-only dict of them (a document is serialised as soon as it is complete, nothing mutates
it afterwards); a line costs one dict lookup and at most three inserts; Organizations is asked
about an account at most once an hour (logferry.enrich.organizations), never per line.
Measured (`python -m tools.bench --size-mb 20 --formats alb,vpcflow,nlb`, pure-Python parsers,
medians of three runs interleaved with the commit before this fill): ALB 84,079 vs 74,499,
VPC flow 207,172 vs 201,723, NLB 172,703 vs 172,329 lines/s: no cost above the noise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..awskeys import key_facts
from ..model import Source
from .organizations import AccountFacts, Organizations

Fill = Callable[[Source], None]

# The fields this fill may add or complete (a drop rule on none of them is decided before it).
FILLS = ("cloud", "aws.organization")


def object_account(
    key: str, prefixes: tuple[tuple[str, str, str | None], ...] = ()
) -> tuple[str | None, str | None]:
    """The account and region of an object: its key layout's, else its configured prefix's."""
    facts = key_facts(key)
    account, region = facts.account, facts.region
    if account is None:
        for prefix, prefix_account, prefix_region in prefixes:  # longest prefix first
            if key.startswith(prefix):
                return prefix_account, region or prefix_region
    return account, region


def _organization(facts: AccountFacts | None) -> Source | None:
    """aws.organization.* of an account (None: nothing to say)."""
    if facts is None:
        return None
    found: Source = {}
    if facts.ou_path:
        found["ou_path"] = facts.ou_path
    if facts.tags:
        found["tags"] = facts.tags
    return found or None


class CloudFacts:
    """The cloud.* facts of one object's documents, and the fill that adds them."""

    def __init__(
        self,
        account: str | None,
        region: str | None,
        organizations: Organizations | None = None,
    ) -> None:
        self.organizations = organizations
        self.account_id = account
        cloud: Source = {"provider": "aws"}
        self.organization: Source | None = None
        if account is not None:
            facts = self._facts(account)
            name = facts.name if facts is not None else None
            cloud["account"] = {"id": account, "name": name} if name else {"id": account}
            self.organization = _organization(facts)
        if region is not None:
            cloud["region"] = region
        self.cloud = cloud

    def _facts(self, account_id: str) -> AccountFacts | None:
        return self.organizations.facts(account_id) if self.organizations else None

    def __call__(self, source: Source) -> None:
        have = source.get("cloud")
        if have is None:
            source["cloud"] = self.cloud
            organization = self.organization
        else:
            organization = self._complete(have)
        if organization:
            aws = source.get("aws")
            if aws is None:
                source["aws"] = {"organization": organization}
            elif isinstance(aws, dict):
                aws["organization"] = organization

    def _complete(self, have: Any) -> Source | None:
        """A record's own cloud.*, completed with what it lacks (never overwritten); the
        organization facts of its account."""
        cloud = self.cloud
        have.setdefault("provider", "aws")
        if "region" not in have and "region" in cloud:
            have["region"] = cloud["region"]
        account = have.get("account")
        if account is None:
            if "account" not in cloud:
                return None
            have["account"] = cloud["account"]
            return self.organization
        account_id = account.get("id")
        if account_id is None:
            return None
        if account_id == self.account_id:  # the object's own: looked up once, above
            name = cloud["account"].get("name")
            if name and "name" not in account:
                account["name"] = name
            return self.organization
        facts = self._facts(account_id)
        if facts is not None and facts.name and "name" not in account:
            account["name"] = facts.name
        return _organization(facts)
