"""The registry of log formats, and detection: which format an object is written in.

To add a format: write its module (a LogFormat subclass and a module-level FORMAT), add it to
FORMATS below, and test it. Order matters only for content sniffing: the first format whose
`matches_content` accepts the first line wins, so stricter formats come first.

Only mail looks past the first line (`format_for_head`): a mail log is the host's syslog
stream, whose first lines may come from other daemons (spamd, amavis, dovecot, opendkim), so
postfix or sendmail is found from the first of its lines among the first MAIL_LOOKAHEAD. Every
other format's objects are written by one service, whose first line is its own: they keep
being detected from it (rejected alternative: any format from any of the first lines, which
would let one stray line decide the format of an object of something else).
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Iterable, Sequence
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, SourceFileLoader

from ..config import pure_python_parsers

# The busy formats' modules may also be compiled (mypyc, see layers/native/compile.py): Python
# imports a compiled module before its source. LOGFERRY_PURE_PYTHON=1 imports the sources: the
# same parsers, slower; for comparison, or to rule the compiled build out.
if pure_python_parsers():
    for _directory in __path__:
        sys.path_importer_cache[_directory] = FileFinder(
            _directory, (SourceFileLoader, SOURCE_SUFFIXES)
        )

from . import (
    alb,
    alb_connection,
    apigateway,
    clb,
    cloudfront,
    cloudtrail,
    cloudwatch,
    cloudwatch_logs,
    lambda_logs,
    networkfirewall,
    nlb,
    postfix,
    route53resolver,
    s3access,
    sendmail,
    vpcflow,
    waf,
)
from .base import COMMON_MAPPING, LogFormat, Mapping

FORMATS: dict[str, LogFormat] = {
    fmt.name: fmt
    for fmt in (
        nlb.FORMAT,
        alb.FORMAT,
        alb_connection.FORMAT,
        clb.FORMAT,
        cloudtrail.FORMAT,
        waf.FORMAT,
        networkfirewall.FORMAT,
        route53resolver.FORMAT,
        apigateway.FORMAT,
        lambda_logs.FORMAT,
        vpcflow.FORMAT,
        cloudfront.FORMAT,
        s3access.FORMAT,
        postfix.FORMAT,
        sendmail.FORMAT,
        cloudwatch_logs.FORMAT,  # before cloudwatch-mail: the same envelopes, any log group
        cloudwatch.FORMAT,
    )
}


# Objects that are not logs although they sit among them, with why they are skipped.
SKIPPED_KEYS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(^|/)ELBAccessLogTestFile$"), "ELB access-logging test object"),
    (re.compile(r"(^|/)CloudTrail-Digest/"), "CloudTrail digest file (hashes, not events)"),
    (re.compile(r"(^|/)ConfigWritabilityCheckFile$"), "AWS bucket write-permission test object"),
)


def skip_reason(key: str) -> str | None:
    """Why an object is not ingested at all, or None to ingest it."""
    for pattern, reason in SKIPPED_KEYS:
        if pattern.search(key):
            return reason
    return None


class UnknownFormat(LookupError):
    pass


def get_format(name: str) -> LogFormat:
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise UnknownFormat(f"unknown format {name!r} (known: {known})") from None


def get_format_by_source(index_source: str) -> LogFormat:
    """A format whose documents go under `index_source` (the first registered)."""
    for fmt in FORMATS.values():
        if fmt.index_source == index_source:
            return fmt
    raise UnknownFormat(f"no format indexes under {index_source!r}")


def format_for_key(key: str, prefixes: Iterable[tuple[str, str]] = ()) -> LogFormat | None:
    """The format an S3 key says: configured prefixes first, then AWS's own key layouts."""
    for prefix, name in prefixes:
        if key.startswith(prefix):
            return get_format(name)
    for fmt in FORMATS.values():
        if fmt.matches_key(key):
            return fmt
    return None


def format_for_content(first_line: str) -> LogFormat | None:
    for fmt in FORMATS.values():
        if fmt.matches_content(first_line):
            return fmt
    return None


# How many of an object's first lines detection reads for a mail server's line.
MAIL_LOOKAHEAD = 500
_MAIL_FORMATS: tuple[LogFormat, ...] = (postfix.FORMAT, sendmail.FORMAT)


def format_for_head(lines: Sequence[str]) -> LogFormat | None:
    """The format of an object from its first non-empty lines: the first line's, else the mail
    format of the first postfix or sendmail line among the first MAIL_LOOKAHEAD."""
    if not lines:
        return None
    found = format_for_content(lines[0])
    if found is not None:
        return found
    for line in lines[1:MAIL_LOOKAHEAD]:
        for fmt in _MAIL_FORMATS:
            if fmt.matches_content(line):
                return fmt
    return None


def _merge(into: Mapping, extra: Mapping, path: str = "") -> None:
    for key, value in extra.items():
        here = f"{path}{key}"
        if key in into and isinstance(into[key], dict) and "properties" in into[key]:
            if "properties" not in value:
                raise ValueError(f"mapping conflict at {here}: object vs {value}")
            _merge(into[key]["properties"], value["properties"], here + ".")
        elif key in into and into[key] != value:
            raise ValueError(f"mapping conflict at {here}: {into[key]} vs {value}")
        else:
            into[key] = value


def index_properties() -> Mapping:
    """The union of every format's mapping: the properties of the logs-* index template."""
    merged = copy.deepcopy(COMMON_MAPPING)
    for fmt in FORMATS.values():
        _merge(merged, copy.deepcopy(fmt.mapping))
    return merged
