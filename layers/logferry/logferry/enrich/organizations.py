"""What AWS Organizations knows of an account: its name, the path of its organizational unit
(`Root/Workloads/Prod`) and its tags (LOGFERRY_ORGANIZATIONS=1).

Only the organization's management account, or a delegated administrator, may ask: the client
is made with LOGFERRY_ORGANIZATIONS_ROLE_ARN's role when set (logferry.accounts).

Invariants: facts are looked up per account, at most once an hour (`ttl`), and kept for every
document of that account in between; the names of all accounts come in one paged ListAccounts
(one call per 20 accounts) rather than one DescribeAccount per account; an account outside the
organization, or a call refused or throttled, gives no facts (logged once per account and hour)
and never fails an object: enrichment is an addition, the document is indexed without it. The
cache is bounded by the organization's size (the accounts it lists, and misses up to
`MAX_UNKNOWN`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

TTL_SECONDS = 3600.0
# After a refused or throttled ListAccounts, the next try waits this long (not a call per
# account met meanwhile).
RETRY_SECONDS = 300.0
# Accounts asked about that the organization does not list (a record naming some other
# account): remembered up to this many, so a hostile stream of ids cannot grow the cache.
MAX_UNKNOWN = 10_000


@dataclass(frozen=True)
class AccountFacts:
    name: str | None = None
    ou_path: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


class Organizations:
    """Account facts from the Organizations API, cached per account for `ttl` seconds."""

    def __init__(
        self,
        client: Any,
        ttl: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._names: dict[str, str] = {}
        self._names_until = float("-inf")
        self._facts: dict[str, tuple[float, AccountFacts | None]] = {}
        self._ou_names: dict[str, str] = {}

    def facts(self, account_id: str) -> AccountFacts | None:
        """The account's facts; None when the organization does not know it (or cannot say)."""
        now = self._clock()
        cached = self._facts.get(account_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._look_up(account_id, now)
        if found is None and account_id not in self._names and len(self._facts) >= MAX_UNKNOWN:
            self._facts.clear()
        self._facts[account_id] = (now + self._ttl, found)
        return found

    def _look_up(self, account_id: str, now: float) -> AccountFacts | None:
        try:
            if now >= self._names_until:
                self._names_until = now + RETRY_SECONDS  # until the listing succeeds
                self._names = self._list_accounts()
                self._names_until = now + self._ttl
                self._ou_names.clear()  # units are renamed and moved: asked again too
            name = self._names.get(account_id)
            if name is None:
                return None
            return AccountFacts(name, self._ou_path(account_id), self._tags(account_id))
        except Exception as exc:  # enrichment never fails an object
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            log.warning(
                "organization facts unavailable",
                extra={"account": account_id, "reason": f"{code}: {exc}"},
            )
            return None

    def _list_accounts(self) -> dict[str, str]:
        names = {}
        for page in self._client.get_paginator("list_accounts").paginate():
            for account in page["Accounts"]:
                names[account["Id"]] = account.get("Name", "")
        return names

    def _ou_path(self, account_id: str) -> str:
        """Root/Unit/Unit: the units from the root down to the account's own."""
        path: list[str] = []
        child = account_id
        for _ in range(10):  # units nest at most five deep; a loop would be AWS's bug
            parent = self._client.list_parents(ChildId=child)["Parents"][0]
            if parent["Type"] == "ROOT":
                path.append("Root")
                break
            path.append(self._ou_name(parent["Id"]))
            child = parent["Id"]
        return "/".join(reversed(path))

    def _ou_name(self, unit_id: str) -> str:
        name = self._ou_names.get(unit_id)
        if name is None:
            unit = self._client.describe_organizational_unit(OrganizationalUnitId=unit_id)
            name = self._ou_names[unit_id] = unit["OrganizationalUnit"]["Name"]
        return name

    def _tags(self, account_id: str) -> dict[str, str]:
        tags = {}
        for page in self._client.get_paginator("list_tags_for_resource").paginate(
            ResourceId=account_id
        ):
            for tag in page["Tags"]:
                # A dot would nest the field (tags "a" and "a.b" could not both be indexed).
                tags[tag["Key"].replace(".", "_")] = tag["Value"]
        return tags
