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

Each record becomes a document in `cloudtrail_records`, which also says why the free-form
parts are flat_object fields.

Digest files and S3 test messages are skipped (by key in the registry, and by shape here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable, Iterator
from typing import Any

from ..ingest.reader import LineReader
from ..model import Document, Line, ParseContext, ParseError, Rejection
from .base import BOOLEAN, DATE, KEYWORD, TEXT_AND_KEYWORD, LogFormat, obj
from .cloudtrail_records import parse_record
from .jsonstream import FLAT, KEPT_RAW, JsonStream, ValueTooLong, json_values

# A record of more UTF-8 bytes than this is skipped, a rejection that says so (CloudTrail caps
# events far below it); the stream's buffer stays bounded by it.
MAX_RECORD_BYTES = 16 * 1024**2

_ENVELOPE = re.compile(r'\{\s*"Records"\s*:\s*\[')


def _is_digest_or_test(value: dict[str, Any]) -> bool:
    """Objects that sit among CloudTrail logs but hold no events."""
    if "digestStartTime" in value or "digestS3Object" in value:
        return True  # log-file integrity digest
    return value.get("Event") == "s3:TestEvent"  # the S3 test message


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
            ctx.lines_read = stream.line - (1 if stream.ends_with_newline else 0)
            ctx.problem = stream.problem

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
