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


def _organization(facts: AccountFacts) -> Source:
    found: Source = {}
    if facts.ou_path:
        found["ou_path"] = facts.ou_path
    if facts.tags:
        found["tags"] = facts.tags
    return found


class CloudFacts:
    """The cloud.* facts of one object's documents, and the fill that adds them."""

    def __init__(
        self,
        account: str | None,
        region: str | None,
        organizations: Organizations | None = None,
    ) -> None:
        self.organizations = organizations
        cloud: Source = {"provider": "aws"}
        self.organization: Source | None = None
        if account is not None:
            cloud["account"] = self.account(account)
            self.organization = self.organization_of(account)
        if region is not None:
            cloud["region"] = region
        self.cloud = cloud

    def account(self, account_id: str) -> Source:
        facts = self.organizations.facts(account_id) if self.organizations else None
        if facts is not None and facts.name:
            return {"id": account_id, "name": facts.name}
        return {"id": account_id}

    def organization_of(self, account_id: str) -> Source | None:
        facts = self.organizations.facts(account_id) if self.organizations else None
        if facts is None:
            return None
        return _organization(facts) or None

    def __call__(self, source: Source) -> None:
        have = source.get("cloud")
        if have is None:
            source["cloud"] = self.cloud
            organization = self.organization
        else:
            self._complete(have)
            organization = self._record_organization(have)
        if organization:
            aws = source.get("aws")
            if aws is None:
                source["aws"] = {"organization": organization}
            elif isinstance(aws, dict):
                aws["organization"] = organization

    def _complete(self, have: Any) -> None:
        """A record's own cloud.*: completed with what it lacks, never overwritten."""
        cloud = self.cloud
        have.setdefault("provider", "aws")
        if "account" not in have:
            if "account" in cloud:
                have["account"] = cloud["account"]
        elif self.organizations is not None:
            account = have["account"]
            facts = self.organizations.facts(account.get("id", ""))
            if facts is not None and facts.name and "name" not in account:
                account["name"] = facts.name
        if "region" not in have and "region" in cloud:
            have["region"] = cloud["region"]

    def _record_organization(self, have: Any) -> Source | None:
        if self.organizations is None:
            return None
        account_id = have.get("account", {}).get("id")
        if account_id is None:
            return None
        if account_id == self.cloud.get("account", {}).get("id"):
            return self.organization
        return self.organization_of(account_id)
