"""Settings, read once from the environment (Lambda) or passed explicitly (CLI, tests)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Literal, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .output.layout import IndexLayout, replica_count

if TYPE_CHECKING:  # logferry.enrich reads Settings: imported where the rules are parsed
    from .enrich.rules import Rule


def pure_python_parsers(env: Mapping[str, str] | None = None) -> bool:
    """LOGFERRY_PURE_PYTHON: the parsers run from their sources, not their compiled build. Read
    when logferry.formats is first imported (before any compiled module is), not per Settings."""
    return bool((os.environ if env is None else env).get("LOGFERRY_PURE_PYTHON"))


def _int(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name)
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"{name}: expected a whole number, got {value!r}") from None


# Days past the retention period an entry may be older than today and still be indexed: late
# deliveries and a week of catching up after an outage.
ACCEPT_MARGIN_DAYS = 7

# Bulk requests in flight per process, at most: client.make_client keeps more connections open.
MAX_BULK_CONCURRENCY = 8


def _concurrency(value: int) -> int:
    if not 1 <= value <= MAX_BULK_CONCURRENCY:
        raise ValueError(
            f"LOGFERRY_BULK_CONCURRENCY: expected 1 to {MAX_BULK_CONCURRENCY}, got {value}"
        )
    return value


def _named_numbers(spec: str, setting: str) -> tuple[tuple[str, float], ...]:
    """Parse "name=1,other=0.5" (thresholds)."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        problem = ValueError(f"{setting}: expected name=number, got {item!r}")
        try:
            number = float(value)
        except ValueError:
            raise problem from None
        if not name.strip():
            raise problem
        pairs.append((name.strip(), number))
    return tuple(pairs)


def _sources(spec: str, setting: str) -> tuple[tuple[str, int], ...]:
    """Parse "nlb,alb=45": sources, each with optional minutes (0 = the source's default)."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, minutes = item.partition("=")
        if sep and not minutes.strip().isdecimal():
            raise ValueError(f"{setting}: expected source or source=minutes, got {item!r}")
        pairs.append((name.strip(), int(minutes) if sep else 0))
    return tuple(pairs)


def _names(spec: str) -> tuple[str, ...]:
    """Parse "a,b*,c": a comma list (empty items dropped)."""
    return tuple(item for item in (part.strip() for part in spec.split(",")) if item)


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ValueError(f"{name}: expected a positive number, got {value}")
    return value


class _Tiers(TypedDict):
    warm_after_days: int | None
    cold_after_days: int | None


def _tiers(env: dict[str, str]) -> _Tiers:
    """LOGFERRY_WARM_AFTER_DAYS and LOGFERRY_COLD_AFTER_DAYS: each unset or positive, and
    warm < cold < LOGFERRY_RETENTION_DAYS."""
    retention = _int(env, "LOGFERRY_RETENTION_DAYS", Settings.retention_days)
    tiers: _Tiers = {"warm_after_days": None, "cold_after_days": None}
    floor, floor_name = 0, ""
    settings: tuple[tuple[str, Literal["warm_after_days", "cold_after_days"]], ...] = (
        ("LOGFERRY_WARM_AFTER_DAYS", "warm_after_days"),
        ("LOGFERRY_COLD_AFTER_DAYS", "cold_after_days"),
    )
    for name, key in settings:
        days = _positive(env, name, 0) if env.get(name, "").strip() else None
        tiers[key] = days
        if days is None:
            continue
        if days <= floor:
            raise ValueError(f"{name}: expected more days than {floor_name} ({floor}), got {days}")
        if days >= retention:
            raise ValueError(
                f"{name}: expected fewer days than LOGFERRY_RETENTION_DAYS ({retention}),"
                f" got {days}"
            )
        floor, floor_name = days, name
    return tiers


def _timezone(name: str) -> tzinfo | None:
    """LOGFERRY_MAIL_TIMEZONE: an IANA zone; empty or UTC is None (UTC)."""
    name = name.strip()
    if not name or name.upper() in ("UTC", "Z"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"LOGFERRY_MAIL_TIMEZONE: unknown time zone {name!r}") from None


_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_ACCOUNT_ID = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


def _bucket_roles(spec: str) -> tuple[tuple[str, str], ...]:
    """LOGFERRY_SOURCE_ROLE_ARNS: "bucket=role ARN,..." ("*" and "?" in bucket names)."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        bucket, _, arn = item.partition("=")
        if not bucket.strip() or not _ROLE_ARN.fullmatch(arn.strip()):
            raise ValueError(
                f"LOGFERRY_SOURCE_ROLE_ARNS: expected bucket=arn:aws:iam::<account>:role/<name>,"
                f" got {item!r}"
            )
        pairs.append((bucket.strip(), arn.strip()))
    return tuple(pairs)


def _role_arn(env: dict[str, str], name: str) -> str:
    arn = env.get(name, "").strip()
    if arn and not _ROLE_ARN.fullmatch(arn):
        raise ValueError(f"{name}: expected arn:aws:iam::<account>:role/<name>, got {arn!r}")
    return arn


def _account_prefixes(spec: str) -> tuple[tuple[str, str, str | None], ...]:
    """LOGFERRY_ACCOUNT_PREFIXES: "prefix=account[:region],...", longest prefix first."""
    found = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        prefix, _, value = item.rpartition("=")
        account, _, region = value.partition(":")
        if (
            not prefix
            or not _ACCOUNT_ID.fullmatch(account)
            or (region and not _REGION.fullmatch(region))
        ):
            raise ValueError(
                f"LOGFERRY_ACCOUNT_PREFIXES: expected prefix=<12-digit account>[:region],"
                f" got {item!r}"
            )
        found.append((prefix, account, region or None))
    return tuple(sorted(found, key=lambda entry: -len(entry[0])))


class _Serverless(TypedDict):
    target: str
    aoss_collection_type: str
    aoss_collection: str


def _serverless(env: Mapping[str, str]) -> _Serverless:
    """LOGFERRY_TARGET (opensearch, aoss; default: aoss for an `.aoss.` endpoint),
    LOGFERRY_AOSS_COLLECTION_TYPE (timeseries, search) and LOGFERRY_AOSS_COLLECTION."""
    url = env.get("OPENSEARCH_URL", "")
    target = env.get("LOGFERRY_TARGET", "").strip() or ("aoss" if ".aoss." in url else "opensearch")
    if target not in ("opensearch", "aoss"):
        raise ValueError(f"LOGFERRY_TARGET: expected opensearch or aoss, got {target!r}")
    kind = env.get("LOGFERRY_AOSS_COLLECTION_TYPE", "").strip().lower() or "timeseries"
    if kind not in ("timeseries", "search"):
        raise ValueError(
            f"LOGFERRY_AOSS_COLLECTION_TYPE: expected timeseries or search, got {kind!r}"
        )
    return {
        "target": target,
        "aoss_collection_type": kind,
        "aoss_collection": env.get("LOGFERRY_AOSS_COLLECTION", "").strip(),
    }


def _log_groups(spec: str) -> tuple[tuple[str, str], ...]:
    """LOGFERRY_LOG_GROUPS: "pattern=format,..." in the order given (the first match wins)."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        pattern, sep, name = item.rpartition("=")
        if not sep or not pattern.strip() or not re.fullmatch(r"[a-z0-9-]+", name.strip()):
            raise ValueError(
                f"LOGFERRY_LOG_GROUPS: expected log-group-pattern=format, got {item!r}"
            )
        pairs.append((pattern.strip(), name.strip()))
    return tuple(pairs)


def _prefix_map(spec: str) -> tuple[tuple[str, str], ...]:
    """Parse "prefix=format,prefix2=format2" into pairs, longest prefix first."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        prefix, sep, fmt = item.rpartition("=")
        if not sep or not prefix:
            raise ValueError(f"LOGFERRY_FORMAT_PREFIXES: expected prefix=format, got {item!r}")
        pairs.append((prefix, fmt))
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


@dataclass(frozen=True)
class ClusterAccess:
    """How clients sign in to OpenSearch, besides its URL (logferry.output.client)."""

    sigv4: bool = False  # LOGFERRY_SIGV4=1: sign a custom domain name too
    ca_bundle: str = ""  # LOGFERRY_CA_BUNDLE: PEM file of the CAs to trust (else the system's)
    secret_arn: str = ""  # LOGFERRY_OPENSEARCH_SECRET_ARN: basic auth from Secrets Manager
    username: str = ""  # LOGFERRY_OPENSEARCH_USERNAME / _PASSWORD: basic auth, locally
    password: str = field(default="", repr=False)
    region: str = ""  # AWS_REGION: the region requests are signed for (the Lambda's own)
    serverless: bool = False  # LOGFERRY_TARGET (as Settings.target): aoss signs for aoss, not es

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClusterAccess:
        env = os.environ if env is None else env
        return cls(
            sigv4=env.get("LOGFERRY_SIGV4") == "1",
            ca_bundle=env.get("LOGFERRY_CA_BUNDLE", "").strip(),
            secret_arn=env.get("LOGFERRY_OPENSEARCH_SECRET_ARN", "").strip(),
            username=env.get("LOGFERRY_OPENSEARCH_USERNAME", ""),
            password=env.get("LOGFERRY_OPENSEARCH_PASSWORD", ""),
            region=env.get("AWS_REGION", ""),
            serverless=_serverless(env)["target"] == "aoss",
        )


@dataclass(frozen=True)
class ResumeSettings:
    """Where continuations of objects too big for one invocation go (ingest.checkpoint)."""

    queue_url: str = ""  # LOGFERRY_QUEUE_URL: the ingest queue itself
    work_bucket: str = ""  # LOGFERRY_WORK_BUCKET: default, the dead-letter bucket
    work_prefix: str = "logferry-work/"  # LOGFERRY_WORK_PREFIX
    part_bytes: int = 64 * 1024**2  # LOGFERRY_PART_BYTES: decompressed bytes per part
    spill_rate: float = 20e6  # LOGFERRY_SPILL_BYTES_PER_SECOND: compressed bytes/s copied
    dlq_url: str = ""  # LOGFERRY_DLQ_URL: the ingest queue's DLQ, for `logferry replay`


def _enrich(spec: str | None) -> tuple[str, ...]:
    """LOGFERRY_ENRICH (logferry.enrich.enrichers)."""
    from .enrich import enrichers

    return enrichers(spec)


def _rules(spec: str, setting: str) -> tuple[Rule, ...]:
    """LOGFERRY_DROP or LOGFERRY_SAMPLE: a bad rule raises, naming it (logferry.enrich.rules)."""
    from .enrich.rules import parse_drop, parse_sample

    return (parse_sample if setting == "LOGFERRY_SAMPLE" else parse_drop)(spec, setting)


def _excluded(spec: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """LOGFERRY_EXCLUDE_FIELDS (logferry.enrich.rules)."""
    from .enrich.rules import parse_exclude

    return parse_exclude(spec)


@dataclass(frozen=True)
class Settings:
    opensearch_url: str = "http://127.0.0.1:9200"
    index_prefix: str = "logs"
    # Each source's index period and primaries (LOGFERRY_INDEX_LAYOUT, logferry.output.layout)
    # and the replicas of every primary (LOGFERRY_REPLICAS), for the templates of `setup`.
    index_layout: IndexLayout = field(default_factory=IndexLayout)
    replicas: int = 1
    # Where rejected lines and permanently failed documents are kept (S3); empty = not kept
    # in S3 (the CLI prints them instead).
    deadletter_bucket: str = ""
    deadletter_prefix: str = "logferry-deadletter/"
    # Key prefix -> format, for buckets not laid out as AWS lays out its logs.
    format_prefixes: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # Hostile input caps: decompressed bytes per object, bytes per line.
    max_object_bytes: int = 8 * 1024**3
    max_line_bytes: int = 1024**2
    # Bulk requests are cut at this many bytes or documents, whichever comes first.
    bulk_max_bytes: int = 5 * 1024**2
    bulk_max_docs: int = 5000
    # Bulk requests in flight while parsing goes on (logferry.output.sink), 1 to
    # MAX_BULK_CONCURRENCY; 1 = one request at a time. 2 measured best (docs/benchmark.md): a
    # third added memory, not speed. Each invocation keeps this many requests on the domain.
    bulk_concurrency: int = 2
    retention_days: int = 90
    keep_original: bool = False
    # Mail: the zone of syslog times without an offset (None: UTC), and the queue lifetime
    # (postfix maximal_queue_lifetime and sendmail Timeout.queuereturn both default to 5 days).
    mail_timezone: tzinfo | None = None
    mail_queue_days: int = 5
    # OpenSearch Dashboards base URL (on AWS: https://<domain endpoint>/_dashboards); empty =
    # saved objects are not imported.
    dashboards_url: str = ""
    # Where monitors notify: an SNS topic, published to by the Notifications plugin with this
    # role. No topic = monitors without actions (alerts only show in Dashboards).
    alert_sns_topic_arn: str = ""
    alert_sns_role_arn: str = ""
    # Overrides of logferry.provisioning.monitors.DEFAULT_THRESHOLDS: "name=value,...".
    alert_thresholds: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    # Sources whose silence pages on-call: "nlb,alb=45" (minutes without documents; default:
    # the source's delivery interval plus the silence margin).
    alert_expected_sources: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    # Hostile input, bounded (logferry.output.indices, .ingest.deadletter, .ingest.service).
    # Entries are indexed only when their event day lies within this many days before today
    # (None: the retention period plus ACCEPT_MARGIN_DAYS) and after it; others are rejected.
    accept_days_back: int | None = None
    accept_days_ahead: int = 1
    # Distinct indices one object may write; entries past it are rejected.
    max_indices_per_object: int = 200
    # Buckets the function may read ("*" and "?" wildcards); empty = any bucket (local use).
    source_buckets: tuple[str, ...] = field(default_factory=tuple)
    # Objects one queue message may name (S3 and EventBridge name one; SNS fan-out a few).
    max_objects_per_message: int = 10
    # Rejected lines of one object kept one by one as dead letters; past it they are counted
    # and summed up in one record.
    max_rejections_kept: int = 1_000_000
    # Continuations of objects too big for one invocation; the default: none (every object is
    # read to its end, or its message returns to the queue).
    resume: ResumeSettings = field(default_factory=ResumeSettings)
    cluster: ClusterAccess = field(default_factory=ClusterAccess)
    # Backend roles (IAM role ARNs, SAML groups) `logferry setup` maps to the OpenSearch roles
    # logferry_writer, logferry_setup and logferry_reader (provisioning.roles.apply_roles), as
    # comma lists; empty = that role's mapping is left as it is.
    writer_backend_roles: tuple[str, ...] = field(default_factory=tuple)
    setup_backend_roles: tuple[str, ...] = field(default_factory=tuple)
    reader_backend_roles: tuple[str, ...] = field(default_factory=tuple)
    # Tiers of the retention policy (Amazon OpenSearch Service, provisioning.retention): days
    # after creation an index moves to UltraWarm, and to cold storage; None = it stays hot until
    # deleted. 0 < warm < cold < retention_days; cold without warm is allowed.
    warm_after_days: int | None = None
    cold_after_days: int | None = None
    # Other accounts (logferry.accounts): buckets read through a role assumed for them
    # ("*" and "?" wildcards; the first matching pattern wins); others with the function's own.
    source_role_arns: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # Key prefix -> (account, region) of objects whose key layout states neither (CloudFront,
    # S3 access logs without date partitions): the cloud.* facts of their documents.
    account_prefixes: tuple[tuple[str, str, str | None], ...] = field(default_factory=tuple)
    # Account names, organizational units and tags from AWS Organizations on every document
    # (logferry.enrich.organizations), through this role when set (else the function's own).
    organizations: bool = False
    organizations_role_arn: str = ""
    # CloudWatch Logs subscription data: the format of each log group ("*" wildcards), before
    # the defaults of logferry.formats.cloudwatch_logs and content detection.
    log_groups: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # GeoIP databases (MaxMind format), each a path or s3://bucket/key (logferry.enrich.geoip),
    # and what enrichment is on (LOGFERRY_ENRICH: logferry.enrich.ENRICHERS; GeoIP needs a
    # database). Per-source rules (logferry.enrich.rules): documents dropped, sampled, and
    # fields removed before indexing.
    geoip_city_db: str = ""
    geoip_asn_db: str = ""
    enrich: tuple[str, ...] = ("geoip", "user_agent")
    drop: tuple[Rule, ...] = field(default_factory=tuple)
    sample: tuple[Rule, ...] = field(default_factory=tuple)
    exclude_fields: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)
    # OpenSearch Serverless (LOGFERRY_TARGET=aoss, or an `.aoss.` endpoint): a collection of
    # type "timeseries" (no custom _id: documents go without one) or "search" (ids kept), and
    # its name, for the data lifecycle policy `logferry setup` writes.
    target: str = "opensearch"
    aoss_collection_type: str = "timeseries"
    aoss_collection: str = ""

    @property
    def serverless(self) -> bool:
        return self.target == "aoss"

    @property
    def sends_ids(self) -> bool:
        """Whether bulk requests carry the deterministic _id (all but Serverless time series)."""
        return not (self.serverless and self.aoss_collection_type == "timeseries")

    @property
    def days_back(self) -> int:
        """Days before today an entry's event day may lie (see accept_days_back)."""
        if self.accept_days_back is not None:
            return self.accept_days_back
        return self.retention_days + ACCEPT_MARGIN_DAYS

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        default = cls()
        return cls(
            opensearch_url=env.get("OPENSEARCH_URL", default.opensearch_url),
            index_prefix=env.get("LOGFERRY_INDEX_PREFIX", default.index_prefix),
            index_layout=IndexLayout.parse(env.get("LOGFERRY_INDEX_LAYOUT", "")),
            replicas=replica_count(env.get("LOGFERRY_REPLICAS", "")),
            deadletter_bucket=env.get("LOGFERRY_DEADLETTER_BUCKET", ""),
            deadletter_prefix=env.get("LOGFERRY_DEADLETTER_PREFIX", default.deadletter_prefix),
            format_prefixes=_prefix_map(env.get("LOGFERRY_FORMAT_PREFIXES", "")),
            max_object_bytes=_int(env, "LOGFERRY_MAX_OBJECT_BYTES", default.max_object_bytes),
            max_line_bytes=_int(env, "LOGFERRY_MAX_LINE_BYTES", default.max_line_bytes),
            bulk_max_bytes=_int(env, "LOGFERRY_BULK_MAX_BYTES", default.bulk_max_bytes),
            bulk_max_docs=_int(env, "LOGFERRY_BULK_MAX_DOCS", default.bulk_max_docs),
            bulk_concurrency=_concurrency(
                _int(env, "LOGFERRY_BULK_CONCURRENCY", default.bulk_concurrency)
            ),
            retention_days=_int(env, "LOGFERRY_RETENTION_DAYS", default.retention_days),
            keep_original=env.get("LOGFERRY_KEEP_ORIGINAL", "").lower() in ("1", "true", "yes"),
            mail_timezone=_timezone(env.get("LOGFERRY_MAIL_TIMEZONE", "")),
            mail_queue_days=_positive(env, "LOGFERRY_MAIL_QUEUE_DAYS", default.mail_queue_days),
            dashboards_url=env.get("LOGFERRY_DASHBOARDS_URL", ""),
            alert_sns_topic_arn=env.get("LOGFERRY_ALERT_SNS_TOPIC_ARN", ""),
            alert_sns_role_arn=env.get("LOGFERRY_ALERT_SNS_ROLE_ARN", ""),
            alert_thresholds=_named_numbers(
                env.get("LOGFERRY_ALERT_THRESHOLDS", ""), "LOGFERRY_ALERT_THRESHOLDS"
            ),
            alert_expected_sources=_sources(
                env.get("LOGFERRY_ALERT_EXPECTED_SOURCES", ""), "LOGFERRY_ALERT_EXPECTED_SOURCES"
            ),
            accept_days_back=(
                _positive(env, "LOGFERRY_ACCEPT_DAYS_BACK", 0)
                if env.get("LOGFERRY_ACCEPT_DAYS_BACK")
                else None
            ),
            accept_days_ahead=_int(env, "LOGFERRY_ACCEPT_DAYS_AHEAD", default.accept_days_ahead),
            max_indices_per_object=_positive(
                env, "LOGFERRY_MAX_INDICES_PER_OBJECT", default.max_indices_per_object
            ),
            source_buckets=_names(env.get("LOGFERRY_SOURCE_BUCKETS", "")),
            max_objects_per_message=_positive(
                env, "LOGFERRY_MAX_OBJECTS_PER_MESSAGE", default.max_objects_per_message
            ),
            max_rejections_kept=_int(
                env, "LOGFERRY_MAX_REJECTIONS_KEPT", default.max_rejections_kept
            ),
            cluster=ClusterAccess.from_env(env),
            resume=ResumeSettings(
                queue_url=env.get("LOGFERRY_QUEUE_URL", ""),
                work_bucket=env.get("LOGFERRY_WORK_BUCKET")
                or env.get("LOGFERRY_DEADLETTER_BUCKET", ""),
                work_prefix=env.get("LOGFERRY_WORK_PREFIX", default.resume.work_prefix),
                part_bytes=_positive(env, "LOGFERRY_PART_BYTES", default.resume.part_bytes),
                spill_rate=float(
                    env.get("LOGFERRY_SPILL_BYTES_PER_SECOND") or default.resume.spill_rate
                ),
                dlq_url=env.get("LOGFERRY_DLQ_URL", ""),
            ),
            writer_backend_roles=_names(env.get("LOGFERRY_WRITER_BACKEND_ROLES", "")),
            setup_backend_roles=_names(env.get("LOGFERRY_SETUP_BACKEND_ROLES", "")),
            reader_backend_roles=_names(env.get("LOGFERRY_READER_BACKEND_ROLES", "")),
            source_role_arns=_bucket_roles(env.get("LOGFERRY_SOURCE_ROLE_ARNS", "")),
            account_prefixes=_account_prefixes(env.get("LOGFERRY_ACCOUNT_PREFIXES", "")),
            organizations=env.get("LOGFERRY_ORGANIZATIONS", "").lower() in ("1", "true", "yes"),
            organizations_role_arn=_role_arn(env, "LOGFERRY_ORGANIZATIONS_ROLE_ARN"),
            log_groups=_log_groups(env.get("LOGFERRY_LOG_GROUPS", "")),
            geoip_city_db=env.get("LOGFERRY_GEOIP_CITY_DB", "").strip(),
            geoip_asn_db=env.get("LOGFERRY_GEOIP_ASN_DB", "").strip(),
            enrich=_enrich(env.get("LOGFERRY_ENRICH")),
            drop=_rules(env.get("LOGFERRY_DROP", ""), "LOGFERRY_DROP"),
            sample=_rules(env.get("LOGFERRY_SAMPLE", ""), "LOGFERRY_SAMPLE"),
            exclude_fields=_excluded(env.get("LOGFERRY_EXCLUDE_FIELDS", "")),
            **_serverless(env),
            **_tiers(env),
        )
