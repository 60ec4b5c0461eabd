"""AWS CloudTrail events: S3 delivery (`{"Records": [...]}`, one document per object, often one
line of tens of MB) and single events one per line (CloudWatch Logs / EventBridge exports).

{"Records":[{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"alice",...},
"eventTime":"2023-04-11T15:24:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",
"awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"Mozilla/5.0 ...",
"errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},...}]}

The object is decoded as a stream, record by record (memory follows the largest record, not the
object); a record over 16 MiB is stepped over without being held, a rejection that gives its size,
and the records after it are read on. Ids: a record is at the physical line where its text starts,
and `sub` numbers the entries starting on that line: 1, 2, ... for envelope records (so a one-line
object gives `<line 1>.<record index>`), 0 for a lone event on its own line (the id a line format
would give).

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

Digest files and S3 test messages are skipped (by key in the registry, and by shape here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable, Iterator
from datetime import datetime
from socket import AF_INET, AF_INET6, inet_pton
from typing import Any

from ..ingest.reader import LineReader
from ..model import Document, Line, ParseContext, ParseError, Rejection, Source
from .base import (
    BOOLEAN,
    DATE,
    KEYWORD,
    TEXT_AND_KEYWORD,
    LogFormat,
    obj,
    tls_version,
)
from .jsonstream import (
    FLAT,
    KEPT_RAW,
    JsonStream,
    ValueTooLong,
    check_serialisable,
    flat_object_value,
    json_values,
    pick,
)
from .times import canonical, is_canonical_utc, offset_minutes, to_utc

# A record of more UTF-8 bytes than this is skipped, a rejection that says so (CloudTrail caps
# events far below it); the stream's buffer stays bounded by it.
MAX_RECORD_BYTES = 16 * 1024**2

_ENVELOPE = re.compile(r'\{\s*"Records"\s*:\s*\[')
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


def _is_digest_or_test(value: dict[str, Any]) -> bool:
    """Objects that sit among CloudTrail logs but hold no events."""
    if "digestStartTime" in value or "digestS3Object" in value:
        return True  # log-file integrity digest
    return value.get("Event") == "s3:TestEvent"  # the S3 test message


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


class _Subs:
    """Per physical line, the `sub` of each entry starting on it (see the module docstring)."""

    def __init__(self) -> None:
        self.line = 0
        self.count = 0
        self.offset = 0

    def next(self, line: int, in_envelope: bool) -> int:
        if line != self.line:
            self.line, self.count, self.offset = line, 0, 0
        if in_envelope:
            self.offset = 1
        sub = self.count + self.offset
        self.count += 1
        return sub


class CloudTrailFormat(LogFormat):
    name = "cloudtrail"
    index_source = "cloudtrail"
    # Lowered by tests; see MAX_RECORD_BYTES.
    max_record_bytes: int = MAX_RECORD_BYTES
    # AWSLogs/[o-org/]<acct>/CloudTrail[-Insight]/<region>/YYYY/MM/DD/<acct>_CloudTrail_... .json.gz
    key_pattern = re.compile(
        r"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?\d{12}/CloudTrail(?:-Insight)?/"
        r"|(?:^|/)\d{12}_CloudTrail(?:-Insight)?_[^/]*\.json(?:\.gz)?$"
    )
    mapping = {
        "user": obj(name=KEYWORD, id=KEYWORD),
        "aws": obj(
            cloudtrail=obj(
                event_version=KEYWORD,
                event_type=KEYWORD,
                event_category=KEYWORD,
                api_version=KEYWORD,
                request_id=KEYWORD,
                event_id=KEYWORD,
                shared_event_id=KEYWORD,
                read_only=BOOLEAN,
                management_event=BOOLEAN,
                error_code=KEYWORD,
                error_message=TEXT_AND_KEYWORD,
                recipient_account_id=KEYWORD,
                vpc_endpoint_id=KEYWORD,
                vpc_endpoint_account_id=KEYWORD,
                session_credential_from_console=BOOLEAN,
                user_identity=obj(
                    type=KEYWORD,
                    principal_id=KEYWORD,
                    arn=KEYWORD,
                    account_id=KEYWORD,
                    access_key_id=KEYWORD,
                    user_name=KEYWORD,
                    invoked_by=KEYWORD,
                    identity_provider=KEYWORD,
                    credential_id=KEYWORD,
                    session_context=obj(
                        creation_date=DATE,
                        mfa_authenticated=BOOLEAN,
                        source_identity=KEYWORD,
                        ec2_role_delivery=KEYWORD,
                        assumed_root=KEYWORD,
                        session_issuer=obj(
                            type=KEYWORD,
                            principal_id=KEYWORD,
                            arn=KEYWORD,
                            account_id=KEYWORD,
                            user_name=KEYWORD,
                        ),
                        web_id_federation_data=obj(federated_provider=KEYWORD),
                    ),
                    on_behalf_of=obj(user_id=KEYWORD, identity_store_arn=KEYWORD),
                ),
                resources=obj(arn=KEYWORD, account_id=KEYWORD, type=KEYWORD),
                tls_details=obj(
                    tls_version=KEYWORD, cipher_suite=KEYWORD, client_provided_host_header=KEYWORD
                ),
                insight_details=obj(
                    state=KEYWORD,
                    event_source=KEYWORD,
                    event_name=KEYWORD,
                    insight_type=KEYWORD,
                    error_code=KEYWORD,
                    insight_context=FLAT,
                ),
                request_parameters=FLAT,
                response_elements=FLAT,
                additional_event_data=FLAT,
                service_event_details=FLAT,
                edge_device_details=FLAT,
                addendum=FLAT,
                extra=FLAT,
                truncated_fields=KEYWORD,
            )
        ),
    }

    def matches_content(self, first_line: str) -> bool:
        head = first_line.lstrip()
        if not head.startswith("{"):
            return False
        if _ENVELOPE.match(head):
            return True
        if '"eventVersion"' in head and ('"eventSource"' in head or '"eventTime"' in head):
            return True
        return '"digestStartTime"' in head and '"digestS3Object"' in head

    def parse_object(self, reader: LineReader, ctx: ParseContext) -> Iterator[Document | Rejection]:
        stream = JsonStream(reader.chunks(), self.max_record_bytes)
        try:
            yield from self.parse_stream(stream, ctx)
        finally:
            reader.lines_read = stream.line - (1 if stream.ends_with_newline else 0)
            if stream.problem is not None:
                reader.problem = stream.problem

    def parse_stream(self, stream: JsonStream, ctx: ParseContext) -> Iterator[Document | Rejection]:
        """Every top-level value: a Records envelope (streamed), a lone event, or a skip."""
        subs = _Subs()
        while stream.peek():
            line = stream.line
            if stream.match(_ENVELOPE):
                complete = yield from self._records(stream, ctx, subs)
                if not complete:
                    return
                continue
            try:
                value, text = stream.value()
            except ValueTooLong:
                try:
                    yield self._skipped(stream, line, "an entry")
                except ParseError as exc:
                    yield from self._broken(stream, f"an entry too large: {exc}")
                    return
                subs.next(line, False)
                continue
            except ParseError as exc:
                if stream.problem is None:  # a damaged stream is reported as the object's
                    yield Rejection(line, str(exc), stream.rest())
                return
            yield from self._value(value, text, line, subs, ctx)

    def parse(self, lines: Iterable[Line], ctx: ParseContext) -> Iterator[Document | Rejection]:
        """Line by line, each line whole (lone events, or an envelope that fits on a line):
        for callers that hold lines rather than an object."""
        subs = _Subs()
        for lineno, line in lines:
            try:
                for value, text in json_values(line):
                    yield from self._value(value, text, lineno, subs, ctx)
            except ParseError as exc:
                yield Rejection(lineno, str(exc), line[:KEPT_RAW])

    def _value(
        self, value: Any, text: str, line: int, subs: _Subs, ctx: ParseContext
    ) -> Iterator[Document | Rejection]:
        """One decoded top-level value: an envelope, a digest or test message, or an event."""
        if isinstance(value, dict) and "Records" in value:
            records = value["Records"]
            if not isinstance(records, list):
                yield Rejection(line, "Records is not an array", text[:KEPT_RAW])
                return
            for index, record in enumerate(records, 1):
                yield self._entry(record, None, line, subs.next(line, True), index, ctx)
        elif isinstance(value, dict) and _is_digest_or_test(value):
            return
        else:
            yield self._entry(value, text, line, subs.next(line, False), 0, ctx)

    def _records(
        self, stream: JsonStream, ctx: ParseContext, subs: _Subs
    ) -> Generator[Document | Rejection, None, bool]:
        """The records of an envelope, after its `{"Records":[`; returns False when the rest of
        the object cannot be read."""
        index = 0
        while True:
            char = stream.peek()
            if char == "]":
                stream.advance(stream.pos + 1)
                break
            if index:
                if char != ",":
                    return (yield from self._broken(stream, "expected ',' or ']' in Records"))
                stream.advance(stream.pos + 1)
                stream.peek()
            index += 1
            line = stream.line
            try:
                record, text = stream.value()
            except ValueTooLong:
                # Skipped without being held, and the records after it read on.
                try:
                    yield self._skipped(stream, line, f"record {index}")
                except ParseError as exc:
                    return (yield from self._broken(stream, f"record {index}: {exc}"))
                subs.next(line, True)  # the ids of the records after it do not shift
                continue
            except ParseError as exc:
                return (yield from self._broken(stream, f"record {index}: {exc}"))
            yield self._entry(record, text, line, subs.next(line, True), index, ctx)
        # The envelope's other keys, if any, are not events.
        char = stream.peek()
        while char == ",":
            stream.advance(stream.pos + 1)
            try:
                stream.peek()
                stream.value()
                if stream.peek() != ":":
                    raise ParseError("expected ':'")
                stream.advance(stream.pos + 1)
                stream.peek()
                stream.value()
            except ParseError as exc:
                return (yield from self._broken(stream, f"after Records: {exc}"))
            char = stream.peek()
        if char != "}":
            return (yield from self._broken(stream, "the Records envelope is not closed"))
        stream.advance(stream.pos + 1)
        return True

    def _skipped(self, stream: JsonStream, line: int, what: str) -> Rejection:
        """The rejection of an over-long entry at the read position, once stepped over (its
        first KEPT_RAW characters kept); ParseError if it cannot be stepped over."""
        head, size = stream.skip_value(KEPT_RAW)
        limit = stream.max_value_bytes
        reason = f"{what}: {size} bytes, over the limit of {limit} bytes for one entry; skipped"
        return Rejection(line, reason, head)

    def _broken(self, stream: JsonStream, reason: str) -> Generator[Rejection, None, bool]:
        rest = stream.rest()
        line = stream.clamp_line(stream.line) if stream.eof else stream.line
        if stream.problem is None:  # a damaged stream is reported as the object's problem
            yield Rejection(line, f"{reason}; the rest of the object was not read", rest)
        return False

    def _entry(
        self, record: Any, text: str | None, line: int, sub: int, index: int, ctx: ParseContext
    ) -> Document | Rejection:
        if text is None:  # from an envelope decoded whole: serialise for the dead letter
            try:
                text = json.dumps(record, ensure_ascii=False)
            except (ValueError, RecursionError):
                text = ""
        try:
            source = parse_record(record, text)
        except ParseError as exc:
            reason = f"record {index}: {exc}" if index else str(exc)
            return Rejection(line, reason, text[:KEPT_RAW])
        except Exception as exc:  # a parser bug must cost one record, not the object
            return Rejection(line, f"parser error: {type(exc).__name__}: {exc}", text[:KEPT_RAW])
        if ctx.keep_original:
            source["event"]["original"] = text
        return Document(source, line, sub)


FORMAT = CloudTrailFormat()
