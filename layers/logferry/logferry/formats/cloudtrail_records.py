"""A CloudTrail event as an ECS document (`parse_record`): its fields by table, its times,
who acted, the free-form parts. cloudtrail.py reads the objects and hands each record here.

`requestParameters`, `responseElements`, `additionalEventData`, `serviceEventDetails` and the
other free-form parts are `flat_object` fields (OpenSearch 2.7+), not JSON text: their shapes
differ per API (the same key is a string in one event and an object in the next), which would
explode or break a dynamic mapping, while flat_object takes any shape as one field and still
answers exact queries on any dotted path (`aws.cloudtrail.request_parameters.bucketName: "x"`);
JSON text could only be searched as a blob. The integration tests index both shapes of one key
into the real cluster. flat_object's limit: a leaf is one term, and a term over 32 KiB fails
the document, so leaves over 16 KiB (a long policy document) are cut and named in
`aws.cloudtrail.truncated_fields`. Fields this module does not know go to `aws.cloudtrail.extra`
(flat_object too), never to the dynamic mapping.
"""

from __future__ import annotations

import re
from datetime import datetime
from socket import AF_INET, AF_INET6, inet_pton
from typing import Any

from ..model import ParseError, Source
from .base import tls_version
from .jsonstream import check_serialisable, flat_object_value, pick
from .times import canonical, is_canonical_utc, offset_minutes, to_utc

# ISO 8601 date and time to the second, extended (a space for the T accepted) or basic, with
# an optional fraction and zone (see iso_time); ASCII digits only.
_ISO_EXTENDED = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]+))?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_ISO_BASIC = re.compile(
    r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})"
    r"(?:[.,]([0-9]+))?(Z|[+-][0-9]{2}(?:[0-9]{2})?)?"
)

# (source key, our name) tables: one loop per group instead of a call per field.
_TRAIL_KEYWORDS = (
    ("eventVersion", "event_version"),
    ("eventType", "event_type"),
    ("eventCategory", "event_category"),
    ("apiVersion", "api_version"),
    ("requestID", "request_id"),
    ("eventID", "event_id"),
    ("sharedEventID", "shared_event_id"),
    ("errorCode", "error_code"),
    ("errorMessage", "error_message"),
    ("recipientAccountId", "recipient_account_id"),
    ("vpcEndpointId", "vpc_endpoint_id"),
    ("vpcEndpointAccountId", "vpc_endpoint_account_id"),
)
_TRAIL_BOOLEANS = (
    ("readOnly", "read_only"),
    ("managementEvent", "management_event"),
    ("sessionCredentialFromConsole", "session_credential_from_console"),
)
_IDENTITY_KEYWORDS = (
    ("type", "type"),
    ("principalId", "principal_id"),
    ("arn", "arn"),
    ("accountId", "account_id"),
    ("accessKeyId", "access_key_id"),
    ("userName", "user_name"),
    ("invokedBy", "invoked_by"),
    ("identityProvider", "identity_provider"),
    ("credentialId", "credential_id"),
)
_ISSUER_KEYWORDS = (*_IDENTITY_KEYWORDS[:4], ("userName", "user_name"))
_CONTEXT_KEYWORDS = (
    ("sourceIdentity", "source_identity"),
    ("ec2RoleDelivery", "ec2_role_delivery"),
    ("assumedRoot", "assumed_root"),
)
_TLS_KEYWORDS = (
    ("tlsVersion", "tls_version"),
    ("cipherSuite", "cipher_suite"),
    ("clientProvidedHostHeader", "client_provided_host_header"),
)
_INSIGHT_KEYWORDS = (
    ("state", "state"),
    ("eventSource", "event_source"),
    ("eventName", "event_name"),
    ("insightType", "insight_type"),
    ("errorCode", "error_code"),
)
# The free-form parts, kept as flat_object.
_FLAT_PARTS = (
    ("requestParameters", "request_parameters"),
    ("responseElements", "response_elements"),
    ("additionalEventData", "additional_event_data"),
    ("serviceEventDetails", "service_event_details"),
    ("edgeDeviceDetails", "edge_device_details"),
    ("addendum", "addendum"),
)
# Top-level fields written to a named field; any other goes to aws.cloudtrail.extra.
_OTHER_KNOWN = (
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "resources",
    "tlsDetails",
    "insightDetails",
)
_KNOWN = frozenset(
    [key for key, _ in (*_TRAIL_KEYWORDS, *_TRAIL_BOOLEANS, *_FLAT_PARTS)] + list(_OTHER_KNOWN)
)
_KNOWN_IDENTITY = frozenset(
    [*(key for key, _ in _IDENTITY_KEYWORDS), "sessionContext", "onBehalfOf"]
)


def _bool(value: Any) -> bool | None:
    if value is True or value is False:
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def iso_time(value: Any) -> str | None:
    """A CloudTrail time as canonical UTC (times.py), or None when it is not a time.

    eventTime is written `2023-04-11T15:24:00Z`: checked in full and kept as it is. Other
    ISO 8601 forms are normalised: the old compact `20131102T010628Z` of creationDate, a
    fraction (kept to milliseconds), an offset (converted), no zone (UTC), a space for the `T`.
    Refused: calendar forms CloudTrail never writes (week dates `2023-W15-1`, ordinal dates
    `2023-100`, which datetime.fromisoformat would take), times without seconds, digits other
    than 0-9, days that do not exist, and times outside the years 1 to 9999 once in UTC.
    """
    if type(value) is not str or not 8 <= len(value) <= 40:
        return None
    if len(value) == 20 and is_canonical_utc(value):
        return value  # the usual form, already what we index
    m = _ISO_EXTENDED.fullmatch(value) or _ISO_BASIC.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((fraction or "")[:6].ljust(6, "0")),
        )  # fmt: skip
        moment = to_utc(local, offset_minutes(zone or "Z", "time"), "time", value)
    except (ValueError, OverflowError):  # ParseError is a ValueError
        return None
    millis = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""
    return canonical(moment.replace(microsecond=0), millis)


def ip_or_none(value: str) -> str | None:
    """The value if it is an IP address (sourceIPAddress may be a service name instead)."""
    # inet_pton (C) rather than the ipaddress module: ten times faster, same answer here.
    if not value or "%" in value or "\0" in value:  # zone ids are not OpenSearch IPs
        return None
    try:
        if ":" in value:
            inet_pton(AF_INET6, value)
        elif value[0].isdecimal():
            inet_pton(AF_INET, value)
        else:
            return None
    except (OSError, ValueError):
        return None
    return value


def _session_context(context: dict[str, Any], extra: Source) -> Source:
    session = pick(context, _CONTEXT_KEYWORDS)
    attributes = context.get("attributes")
    if isinstance(attributes, dict):
        created = iso_time(attributes.get("creationDate"))
        if created is not None:
            session["creation_date"] = created
        mfa = _bool(attributes.get("mfaAuthenticated"))
        if mfa is not None:
            session["mfa_authenticated"] = mfa
    issuer = context.get("sessionIssuer")
    if isinstance(issuer, dict) and issuer:
        picked = pick(issuer, _ISSUER_KEYWORDS)
        if picked:
            session["session_issuer"] = picked
    web = context.get("webIdFederationData")
    if isinstance(web, dict) and web:
        # its attributes differ per identity provider: the whole of it is kept in extra
        provider = web.get("federatedProvider")
        if type(provider) is str and provider:
            session["web_id_federation_data"] = {"federated_provider": provider}
        extra.setdefault("userIdentity", {})["webIdFederationData"] = web
    return session


def _user_identity(ui: dict[str, Any], extra: Source) -> Source:
    identity = pick(ui, _IDENTITY_KEYWORDS)
    context = ui.get("sessionContext")
    if isinstance(context, dict):
        session = _session_context(context, extra)
        if session:
            identity["session_context"] = session
    on_behalf = ui.get("onBehalfOf")
    if isinstance(on_behalf, dict):
        picked = pick(
            on_behalf, (("userId", "user_id"), ("identityStoreArn", "identity_store_arn"))
        )
        if picked:
            identity["on_behalf_of"] = picked
    if not _KNOWN_IDENTITY.issuperset(ui):
        unknown = {k: v for k, v in ui.items() if k not in _KNOWN_IDENTITY}
        extra.setdefault("userIdentity", {}).update(unknown)
    return identity


def _user(identity: Source) -> Source:
    """ECS user.name / user.id: who acted, as far as the identity tells."""
    user: Source = {}
    name = identity.get("user_name")
    arn = identity.get("arn")
    if name is None and arn is not None:
        kind = identity.get("type")
        if kind == "Root" or arn.endswith(":root"):
            name = "root"
        elif kind in ("AssumedRole", "FederatedUser") and "/" in arn:
            name = arn.rpartition("/")[2]  # the session (often the person) behind the role
    if name is not None:
        user["name"] = name
    principal = identity.get("principal_id")
    if principal is not None:
        user["id"] = principal
    return user


def _resources(value: Any) -> list[Source] | None:
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if isinstance(item, dict):
            resource = pick(item, (("ARN", "arn"), ("arn", "arn"), ("accountId", "account_id")))
            resource.update(pick(item, (("type", "type"),)))
            if resource:
                out.append(resource)
    return out or None


def parse_record(record: Any, text: str) -> Source:
    """The ECS document for one CloudTrail event (`text` is its JSON), or ParseError."""
    if not isinstance(record, dict):
        raise ParseError(f"expected a JSON object, got {type(record).__name__}")
    get = record.get
    event_time = get("eventTime")
    timestamp = iso_time(event_time)
    if timestamp is None:
        if event_time is None:
            raise ParseError("eventTime missing: not a CloudTrail event")
        raise ParseError(
            "eventTime: expected an ISO 8601 time such as YYYY-MM-DDTHH:MM:SSZ,"
            f" got {str(event_time)[:60]!r}"
        )
    extra: Source = {}
    trail = pick(record, _TRAIL_KEYWORDS)
    for key, name in _TRAIL_BOOLEANS:
        flag = _bool(get(key))
        if flag is not None:
            trail[name] = flag
    doc: Source = {"@timestamp": timestamp}

    event = pick(record, (("eventName", "action"), ("eventSource", "provider")))
    event["dataset"] = "aws.cloudtrail"
    event["kind"] = "event"
    response = get("responseElements")
    if "error_code" in trail:
        event["outcome"] = "failure"
    elif (
        event.get("action") == "ConsoleLogin"
        and isinstance(response, dict)
        and response.get("ConsoleLogin") == "Failure"
    ):
        event["outcome"] = "failure"  # failed sign-ins carry no errorCode, only this
    elif trail.get("event_type") != "AwsCloudTrailInsight":  # an insight is not a call
        event["outcome"] = "success"
    doc["event"] = event

    cloud = pick(record, (("awsRegion", "region"),))
    if "recipient_account_id" in trail:
        cloud["account"] = {"id": trail["recipient_account_id"]}
    if cloud:
        doc["cloud"] = cloud
    address = get("sourceIPAddress")
    if type(address) is str and address:
        if ip_or_none(address) is not None:
            doc["source"] = {"address": address, "ip": address}
        elif address.rpartition(".")[2].isalpha() and " " not in address:  # ec2.amazonaws.com
            doc["source"] = {"address": address, "domain": address}
        else:
            doc["source"] = {"address": address}
    ui = get("userIdentity")
    if isinstance(ui, dict):
        identity = _user_identity(ui, extra)
        if identity:
            trail["user_identity"] = identity
            user = _user(identity)
            if user:
                doc["user"] = user
    elif ui is not None:
        extra["userIdentity"] = ui
    agent = get("userAgent")
    if type(agent) is str and agent:
        doc["user_agent"] = {"original": agent}
    details = get("tlsDetails")
    if isinstance(details, dict):
        tls_details = pick(details, _TLS_KEYWORDS)
        if tls_details:
            trail["tls_details"] = tls_details
            tls: Source = {}
            version = tls_version(tls_details.get("tls_version", ""))
            if version is not None:
                tls = {"version": version, "version_protocol": "tls"}
            if "cipher_suite" in tls_details:
                tls["cipher"] = tls_details["cipher_suite"]
            if tls:
                doc["tls"] = tls
    resources = _resources(get("resources"))
    if resources:
        trail["resources"] = resources

    # Free-form parts: their nulls and empty objects are the event's own, kept as they are.
    cut: list[str] = []
    for key, name in _FLAT_PARTS:
        value = get(key)
        if value is not None:
            value = flat_object_value(value, name, text, cut)
            if value is not None:
                trail[name] = value
    insight = get("insightDetails")
    if isinstance(insight, dict):
        picked = pick(insight, _INSIGHT_KEYWORDS)
        context = flat_object_value(
            insight.get("insightContext"), "insight_details.insight_context", text, cut
        )
        if context is not None:
            picked["insight_context"] = context
        if picked:
            trail["insight_details"] = picked
    elif insight is not None:
        extra["insightDetails"] = insight
    if not _KNOWN.issuperset(record):
        extra.update((k, v) for k, v in record.items() if k not in _KNOWN)
    if extra:
        extra_value = flat_object_value(extra, "extra", text, cut)
        if extra_value is not None:
            trail["extra"] = extra_value
    if cut:
        trail["truncated_fields"] = cut
    doc["aws"] = {"cloudtrail": trail}
    check_serialisable(doc, text)
    return doc
