"""What documents gain besides their record: facts of the account and organization
(logferry.enrich.cloud, .organizations), where their addresses are (.geoip) and what their
clients are (.useragent); and what is kept of them (.rules: drop, sample, exclude).

`Enrichment` is built once per pipeline from Settings; `for_object` gives the fill of one
object's documents (None when there is nothing to add), composed of what applies to its format,
so that the per-line cost is one call; `keep_for` gives its drop/sample/exclude decision (None
when no rule names its format), which the pipeline asks after the fill and before indexing.

LOGFERRY_ENRICH names what is on (`geoip,user_agent`, the default: GeoIP only when a database
is configured; `none`: neither). Cloud facts are not switched by it: they cost nothing
(logferry.enrich.cloud).

Invariants: a fill only adds (a record's own fields win), and only the fields its module's
`FILLS` names; the drop/sample decision comes after the fill and before serialisation, in
`logferry.ingest.linewise.send_lines`, `Pipeline.documents` and `logferry parse` alike, so
parse shows what ingest indexes (`send_lines` decides a drop rule on none of `FILLED` before
the fill: the same outcome, without the lookups). Rejected: rules as a fill that empties the
document (a dropped document must not reach the sink, and needs its id to sample).
The fast path's writers (logferry.formats.fast) add cloud facts, GeoIP and user agents
themselves (`fast_facts` says what); Organizations facts need the Python path.
Measured (docs/benchmark.md, `make bench`'s 200 MB objects, medians of 3, City records of
GeoLite2's size): GeoIP + user agents keep ALB at 0.75x of its plain rate on a first object
(217,168 vs 288,186 lines/s, both on the fast path) and 0.80x on an object of clients the
process has met; VPC flow 0.82x and 0.84x, NLB 0.77x and 0.82x (on 20 MB objects, mostly new
addresses: 0.64x, 0.66x, 0.61x). With no rule set the hook is one `is not None` a
line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..config import Settings
from ..formats.base import LogFormat
from ..formats.fast import AgentLookup
from . import cloud, geoip, useragent
from .cloud import CloudFacts, Fill, object_account
from .decision import Drop, JsonDecision, Keep, Rules
from .geoip import GeoIP
from .organizations import Organizations
from .useragent import UserAgents


class FastFacts(NamedTuple):
    """What a fast writer adds to an object's documents besides their record."""

    account: str | None
    region: str | None
    agents: AgentLookup | None  # user agents on, for a format that has them
    geoip: tuple[str | None, str | None] | None  # the City and ASN databases' files
    # GeoIP's own answer, as JSON members, for the addresses a writer leaves to Python
    geoip_members: Callable[[str], bytes] | None = None


# Every field a fill may add: a drop rule that tests none of them is decided before the fill.
FILLED = (*cloud.FILLS, *geoip.FILLS, *useragent.FILLS)

__all__ = [
    "AGENT_FORMATS",
    "ENRICHERS",
    "Drop",
    "Enrichment",
    "FastFacts",
    "Fill",
    "JsonDecision",
    "Keep",
]

# What LOGFERRY_ENRICH may name.
ENRICHERS = ("geoip", "user_agent")

# Formats whose documents carry `user_agent.original`: the parser's rules are loaded (~0.24 s)
# only when one of them is read.
AGENT_FORMATS = frozenset({"alb", "clb", "cloudfront", "s3access", "waf", "apigateway"})


def _compose(fills: list[Fill]) -> Fill | None:
    if not fills:
        return None
    if len(fills) == 1:
        return fills[0]
    if len(fills) == 2:
        first, second = fills

        def both(source: Any) -> None:
            first(source)
            second(source)

        return both
    first, second, third = fills[0], fills[1], fills[2:]

    def every(source: Any) -> None:
        first(source)
        second(source)
        for fill in third:
            fill(source)

    return every


class Enrichment:
    def __init__(
        self,
        account_prefixes: tuple[tuple[str, str, str | None], ...] = (),
        organizations: Organizations | None = None,
        geoip: GeoIP | None = None,
        user_agents: bool | UserAgents = False,
        rules: Rules | None = None,
    ) -> None:
        self.account_prefixes = account_prefixes
        self.organizations = organizations
        self.geoip = geoip
        # True: made on first use (the rules' loading time is paid only by formats with agents).
        self._user_agents = user_agents
        self.rules = rules or Rules()

    @classmethod
    def from_settings(
        cls, settings: Settings, organizations_client: Any = None, s3: Any = None
    ) -> Enrichment:
        """With Organizations when settings ask for it: through the client given, else one made
        with LOGFERRY_ORGANIZATIONS_ROLE_ARN's role (or the process's own credentials). GeoIP
        databases in S3 are read through `s3` (else a client of the process's own)."""
        organizations = None
        if settings.organizations:
            if organizations_client is None:
                organizations_client = _organizations_client(settings.organizations_role_arn)
            organizations = Organizations(organizations_client)
        geoip = None
        if "geoip" in settings.enrich:
            geoip = GeoIP.open(settings.geoip_city_db, settings.geoip_asn_db, s3)
        rules = Rules(settings.drop, settings.sample, settings.exclude_fields)
        if rules:
            from ..formats import FORMATS
            from .rules import check_sources

            check_sources(FORMATS, rules.drop, rules.sample, rules.exclude)
        return cls(
            settings.account_prefixes,
            organizations,
            geoip,
            "user_agent" in settings.enrich,
            rules,
        )

    @property
    def user_agents(self) -> UserAgents | None:
        if self._user_agents is True:
            self._user_agents = UserAgents()
        return self._user_agents or None

    def for_object(self, key: str, fmt: LogFormat) -> Fill | None:
        fills: list[Fill] = []
        if fmt.from_aws:
            account, region = object_account(key, self.account_prefixes)
            fills.append(CloudFacts(account, region, self.organizations))
        if self.geoip is not None:
            self.geoip.refresh()
            fills.append(self.geoip.fill())
        if self._user_agents and fmt.name in AGENT_FORMATS:
            agents = self.user_agents
            assert agents is not None
            fills.append(agents.fill())
        return _compose(fills)

    def fast_facts(self, key: str, fmt: LogFormat) -> FastFacts | None:
        """What a fast writer (logferry.formats.fast) adds to the object's documents itself:
        their account and region, the user agents' lookup where they apply, and the GeoIP
        databases' files (call after `for_object`, which refreshes them); None when they gain
        more (Organizations)."""
        if not fmt.from_aws or self.organizations is not None:
            return None
        geoip = None
        if self.geoip is not None:
            city, asn = self.geoip.city, self.geoip.asn
            geoip = (city.path if city else None, asn.path if asn else None)
        agents = None
        if self._user_agents and fmt.name in AGENT_FORMATS:
            user_agents = self.user_agents
            assert user_agents is not None
            agents = user_agents.lookup
        account, region = object_account(key, self.account_prefixes)
        members = None if self.geoip is None else self.geoip.members
        return FastFacts(account, region, agents, geoip, members)

    def keep_for(self, fmt: LogFormat) -> Keep | None:
        """The drop/sample/exclude decision on one format's documents (None: all kept whole)."""
        return self.rules.for_source(fmt.name) if self.rules else None

    def json_decisions_for(self, fmt: LogFormat) -> JsonDecision | None:
        """The rules on documents that are JSON already (the fast path's: logferry.formats.
        fast); None: no rule, or exclusions (then no fast path)."""
        return self.rules.on_json(fmt.name) if self.rules else None

    def decisions_for(self, fmt: LogFormat) -> tuple[Drop | None, Keep | None]:
        """`keep_for` in two: the drops that need no enriched field, asked before the fill
        (a document they drop is not enriched), and the rest, asked after it."""
        if not self.rules:
            return None, None
        return self.rules.split(fmt.name, FILLED)


def enrichers(spec: str | None, setting: str = "LOGFERRY_ENRICH") -> tuple[str, ...]:
    """LOGFERRY_ENRICH: a comma list of ENRICHERS, or `none`; unset: all of them."""
    if spec is None or not spec.strip():
        return ENRICHERS
    names = tuple(filter(None, (part.strip().lower() for part in spec.split(","))))
    if names == ("none",):
        return ()
    for name in names:
        if name not in ENRICHERS:
            raise ValueError(
                f"{setting}: expected none or some of {','.join(ENRICHERS)}, got {name!r}"
            )
    return names


def _organizations_client(role_arn: str) -> Any:
    import boto3

    if not role_arn:
        return boto3.client("organizations")
    from ..accounts import RoleClients

    return RoleClients().client("organizations", role_arn)
