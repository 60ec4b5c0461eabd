"""What documents gain besides their record: facts of the account and organization
(logferry.enrich.cloud, .organizations).

`Enrichment` is built once per pipeline from Settings; `for_object` gives the fill of one
object's documents (None when there is nothing to add), so that the per-line cost is one call.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..formats.base import LogFormat
from .cloud import CloudFacts, Fill, object_account
from .organizations import Organizations

__all__ = ["Enrichment", "Fill"]


class Enrichment:
    def __init__(
        self,
        account_prefixes: tuple[tuple[str, str, str | None], ...] = (),
        organizations: Organizations | None = None,
    ) -> None:
        self.account_prefixes = account_prefixes
        self.organizations = organizations

    @classmethod
    def from_settings(cls, settings: Settings, organizations_client: Any = None) -> Enrichment:
        """With Organizations when settings ask for it: through the client given, else one made
        with LOGFERRY_ORGANIZATIONS_ROLE_ARN's role (or the process's own credentials)."""
        organizations = None
        if settings.organizations:
            if organizations_client is None:
                organizations_client = _organizations_client(settings.organizations_role_arn)
            organizations = Organizations(organizations_client)
        return cls(settings.account_prefixes, organizations)

    def for_object(self, key: str, fmt: LogFormat) -> Fill | None:
        if not fmt.from_aws:
            return None
        account, region = object_account(key, self.account_prefixes)
        return CloudFacts(account, region, self.organizations)


def _organizations_client(role_arn: str) -> Any:
    import boto3

    if not role_arn:
        return boto3.client("organizations")
    from ..accounts import RoleClients

    return RoleClients().client("organizations", role_arn)
