"""What AWS's own key layouts say about a log object: the account, the region and the day.

AWS writes logs under `AWSLogs/<account>/<service>/<region>/YYYY/MM/DD/` (organization trails
put `o-<org id>/` before the account; VPC flow logs can use Hive-style `aws-account-id=` parts),
names the files `<account>_<service>_<region>_..._YYYYMMDDTHHMMZ_...`, and S3 server access
logs with date-based partitioning go under `<account>/<region>/<bucket>/YYYY/MM/DD/`. These
facts place documents (`cloud.account.id`, `cloud.region`) and let a backfill select objects by
day without reading them.

Invariants: only what the layout states is returned (a `cloudfront` or `global` path part is
not a region; a 12-digit number elsewhere in a key is not an account); nothing here reads an
object or calls AWS. A key is only a name chosen by whoever writes to the bucket, so a record's
own account and region win over these (logferry.enrich.cloud).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
_DAY = r"(?P<year>\d{4})/(?P<month>\d\d)/(?P<day>\d\d)"

# Most specific first: each fact is taken from the first layout that states it.
_LAYOUTS = (
    # AWSLogs/[o-org/]<account>/<service>/[<log type>/]<region>[/<one part>]/YYYY/MM/DD/: the
    # log type of Network Firewall (alert, flow, tls), the part a WAF ACL's or a firewall's name
    # (Route 53 Resolver puts the VPC where the region would be: no region, the day still).
    re.compile(
        r"(?:^|/)AWSLogs/(?:o-[a-z0-9]{10,32}/)?(?P<account>\d{12})/[A-Za-z0-9_-]+/"
        rf"(?:(?:alert|flow|tls)/)?(?P<region>[a-z0-9-]+)/(?:[^/]+/)?{_DAY}/"
    ),
    # Hive-compatible prefixes (VPC flow logs): aws-account-id=/aws-service=/aws-region=/year=
    re.compile(
        r"(?:^|/)AWSLogs/aws-account-id=(?P<account>\d{12})/aws-service=[^/]+/"
        r"aws-region=(?P<region>[a-z0-9-]+)/year=(?P<year>\d{4})/month=(?P<month>\d\d)/"
        r"day=(?P<day>\d\d)/"
    ),
    # The file name: 111122223333_elasticloadbalancing_eu-west-1_..._20240115T1340Z_...
    re.compile(
        r"(?:^|/)(?P<account>\d{12})_[A-Za-z-]+_(?P<region>[a-z0-9-]+)_(?:[^/]*_)?"
        r"(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)T\d{4}Z[^/]*$"
    ),
    # S3 server access logs, date-based partitioning: <account>/<region>/<bucket>/YYYY/MM/DD/
    re.compile(
        rf"(?:^|/)(?P<account>\d{{12}})/(?P<region>{_REGION})/[^/]+/{_DAY}/"
        r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}$"
    ),
    # AWSLogs/<account>/<service>/... without a day (CloudFront's own prefix): the account only.
    re.compile(r"(?:^|/)AWSLogs/(?:o-[a-z0-9]{10,32}/)?(?:aws-account-id=)?(?P<account>\d{12})/"),
    # File names that carry only a time: CloudFront (E2ABC...YYYY-MM-DD-HH.) and S3 access logs.
    re.compile(
        r"(?:^|/)(?:E[A-Z0-9]{12,13}\.)?(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)-\d\d[.-][^/]*$"
    ),
)
_IS_REGION = re.compile(_REGION).fullmatch


@dataclass(frozen=True, slots=True)
class KeyFacts:
    """What a key's layout states: each None when it does not."""

    account: str | None = None
    region: str | None = None
    day: date | None = None


NOTHING = KeyFacts()


def key_facts(key: str) -> KeyFacts:
    """The account, region and day AWS's key layouts state for `key` (NOTHING for others):
    each fact from the first, most specific layout that states it."""
    found: dict[str, str] = {}
    for layout in _LAYOUTS:
        match = layout.search(key)
        if match is not None:
            for name, value in match.groupdict().items():
                found.setdefault(name, value)
    if not found:
        return NOTHING
    day = None
    if "year" in found:
        try:
            day = date(int(found["year"]), int(found["month"]), int(found["day"]))
        except ValueError:  # 2024/02/31: a name, not a day
            day = None
    region = found.get("region")
    return KeyFacts(
        found.get("account"), region if region is not None and _IS_REGION(region) else None, day
    )
