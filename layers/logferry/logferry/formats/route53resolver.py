"""Route 53 Resolver query logs (VPC DNS queries, DNS Firewall matches): one JSON object a line.

{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-7example",
 "query_timestamp":"2021-02-04T17:51:55Z","query_name":"15.3.4.32.in-addr.arpa.","query_type":
 "PTR","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"203.0.113.9","Type":"PTR",
 "Class":"IN"}],"srcaddr":"4.5.64.102","srcport":"56067","transport":"UDP","srcids":{"instance":
 "i-0d15cd0d3example"},"firewall_rule_group_id":"rslvr-frg-...","firewall_rule_action":"BLOCK",
 "firewall_domain_list_id":"rslvr-fdl-..."}

Delivered to S3 under AWSLogs/<acct>/vpcdnsquerylogs/<vpc-id>/YYYY/MM/DD/
<acct>_vpcdnsquerylogs_<vpc-id>_YYYYMMDDTHHMMZ_<hash>.log.gz, or through CloudWatch Logs or
Firehose (objects back to back: see jsonlines).

- `query_timestamp` is UTC; other ISO 8601 spellings are normalised, a record without a time
  is rejected. The account and region are the record's own (`cloud.*`), not the key's.
- dns.question.name and the names among the answers lose their trailing dot, as ECS writes
  names; the root (`.`) stays `.`. A/AAAA answers are also dns.resolved_ip.
- `srcport` is quoted in the logs: read as a number. `srcids` names where the query came from:
  an instance (cloud.instance.id) or an inbound Resolver endpoint and its network interface.
- event.action is the DNS Firewall rule's action in lower case (block, alert, allow), as ECS
  writes actions and as the WAF format does; the value as logged stays in
  aws.route53resolver.firewall_rule_action. Only queries a rule matched carry one.
- event.outcome: success for NOERROR, failure for any other response code (NXDOMAIN,
  SERVFAIL, REFUSED), so a burst of failures is one query away.
- Keys the format does not know are kept in aws.route53resolver.extra (flat_object), not
  mapped one by one: minor versions add fields.
Rejected alternative: registered-domain splitting (Elastic's dns.question.registered_domain)
needs the public suffix list, a dependency and a yearly update for one derived field.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import ParseError, Source
from .base import IP, KEYWORD, obj
from .cloudtrail_records import ip_or_none, iso_time
from .jsonlines import JsonLinesFormat, as_int, as_text, keep_extra
from .jsonstream import FLAT, check_serialisable, pick

_KNOWN = frozenset(
    [
        "version",
        "account_id",
        "region",
        "vpc_id",
        "query_timestamp",
        "query_name",
        "query_type",
        "query_class",
        "rcode",
        "answers",
        "srcaddr",
        "srcport",
        "transport",
        "srcids",
        "firewall_rule_group_id",
        "firewall_rule_action",
        "firewall_domain_list_id",
    ]
)
_RESOLVER_KEYWORDS = (
    ("version", "version"),
    ("vpc_id", "vpc_id"),
    ("firewall_rule_group_id", "firewall_rule_group_id"),
    ("firewall_rule_action", "firewall_rule_action"),
    ("firewall_domain_list_id", "firewall_domain_list_id"),
)
_QUESTION_KEYWORDS = (("query_type", "type"), ("query_class", "class"))
# srcids: the querying instance, or the inbound endpoint a query from outside the VPC came in by.
_SOURCE_IDS = (
    ("resolver_endpoint", "resolver_endpoint_id"),
    ("resolver-endpoint", "resolver_endpoint_id"),  # the spelling of the older field list
    ("resolver_network_interface", "resolver_network_interface_id"),
)
_TRANSPORTS = {"udp": "17", "tcp": "6"}


def _name(value: str) -> str:
    """A DNS name as ECS writes it: without the trailing dot, but for the root."""
    return value[:-1] if len(value) > 1 and value.endswith(".") else value


def _answers(value: list[Any]) -> tuple[list[Source], list[str]]:
    """dns.answers ({data, type, class}) and the addresses among them."""
    answers: list[Source] = []
    resolved: list[str] = []
    for item in value:
        if type(item) is not dict:
            continue
        answer = pick(item, (("Type", "type"), ("Class", "class")))
        data = as_text(item.get("Rdata"))
        if data is not None:
            answer["data"] = _name(data)
            if answer.get("type") in ("A", "AAAA") and ip_or_none(data) is not None:
                resolved.append(data)
        if answer:
            answers.append(answer)
    return answers, resolved


def parse_record(entry: Any, text: str) -> Source:
    """The ECS document for one query log record (`text` is its JSON), or ParseError."""
    if type(entry) is not dict:
        raise ParseError(f"expected a JSON object, got {type(entry).__name__}")
    get = entry.get
    stamp = get("query_timestamp")
    if stamp is None:
        raise ParseError("query_timestamp missing: not a Resolver query log record")
    timestamp = iso_time(stamp)
    if timestamp is None:
        raise ParseError(f"query_timestamp: expected an ISO 8601 time, got {str(stamp)[:40]!r}")
    event: Source = {"dataset": "aws.route53resolver", "kind": "event"}
    doc: Source = {"@timestamp": timestamp, "event": event}
    resolver = pick(entry, _RESOLVER_KEYWORDS)
    action = resolver.get("firewall_rule_action")
    if action is not None:
        event["action"] = action.lower()

    dns: Source = {}
    question = pick(entry, _QUESTION_KEYWORDS)
    name = as_text(get("query_name"))
    if name is not None:
        question["name"] = _name(name)
    if question:
        dns["question"] = question
    rcode = as_text(get("rcode"))
    if rcode is not None:
        dns["response_code"] = rcode
        event["outcome"] = "success" if rcode == "NOERROR" else "failure"
    answers = get("answers")
    if type(answers) is list and answers:
        listed, resolved = _answers(answers)
        if listed:
            dns["answers"] = listed
        if resolved:
            dns["resolved_ip"] = resolved
    if dns:
        doc["dns"] = dns

    address = as_text(get("srcaddr"))
    if address is not None:
        source: Source = {"address": address}
        if ip_or_none(address) is not None:
            source["ip"] = address
        port = as_int(get("srcport"), "srcport", 65535)
        if port is not None:
            source["port"] = port
        doc["source"] = source
    transport = as_text(get("transport"))
    if transport is not None:
        network: Source = {"transport": transport.lower(), "protocol": "dns"}
        number = _TRANSPORTS.get(network["transport"])
        if number is not None:
            network["iana_number"] = number
        doc["network"] = network

    cloud: Source = {}
    account = as_text(get("account_id"))
    if account is not None:
        cloud["account"] = {"id": account}
    region = as_text(get("region"))
    if region is not None:
        cloud["region"] = region
    ids = get("srcids")
    if type(ids) is dict and ids:
        instance = as_text(ids.get("instance"))
        if instance is not None:
            cloud["instance"] = {"id": instance}
        resolver.update(pick(ids, _SOURCE_IDS))
    if cloud:
        doc["cloud"] = cloud
    if not _KNOWN.issuperset(entry):
        keep_extra({k: v for k, v in entry.items() if k not in _KNOWN}, text, resolver)
    if resolver:
        doc["aws"] = {"route53resolver": resolver}
    check_serialisable(doc, text)
    return doc


class Route53ResolverFormat(JsonLinesFormat):
    name = "route53resolver"
    index_source = "route53resolver"
    # AWSLogs/<acct>/vpcdnsquerylogs/<vpc-id>/YYYY/MM/DD/<acct>_vpcdnsquerylogs_<vpc>_...log.gz
    key_pattern = re.compile(r"(?:^|/)vpcdnsquerylogs/|_vpcdnsquerylogs_")
    mapping = {
        "dns": obj(
            question=obj(name=KEYWORD, type=KEYWORD, **{"class": KEYWORD}),
            response_code=KEYWORD,
            answers=obj(data=KEYWORD, type=KEYWORD, **{"class": KEYWORD}),
            resolved_ip=IP,
        ),
        "network": obj(protocol=KEYWORD),
        "cloud": obj(instance=obj(id=KEYWORD)),
        "aws": obj(
            route53resolver=obj(
                version=KEYWORD,
                vpc_id=KEYWORD,
                resolver_endpoint_id=KEYWORD,
                resolver_network_interface_id=KEYWORD,
                firewall_rule_group_id=KEYWORD,
                firewall_rule_action=KEYWORD,
                firewall_domain_list_id=KEYWORD,
                extra=FLAT,
                truncated_fields=KEYWORD,
            )
        ),
    }

    def matches_content(self, first_line: str) -> bool:
        # The first line may be cut at 64 KiB: these come early in a record, in any order.
        return (
            first_line.lstrip().startswith("{")
            and '"query_name"' in first_line
            and '"query_type"' in first_line
            and ('"srcaddr"' in first_line or '"rcode"' in first_line)
        )

    def parse_entry(self, entry: Any, text: str) -> Source:
        return parse_record(entry, text)


FORMAT = Route53ResolverFormat()
