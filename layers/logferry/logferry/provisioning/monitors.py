"""OpenSearch Alerting monitors for on-call, rendered from the package's JSON and applied by name.

A monitor file (content/monitors/*.json) is an Alerting monitor body with `${name}`
placeholders: the index prefix, thresholds (settings with defaults, below), the notification
channel. A string that is exactly one placeholder takes the value's own JSON type (a number
stays a number, a query clause stays an object); a placeholder inside a longer string is
replaced by its text. `{{...}}` is left alone: that is mustache, rendered by Alerting at run time.

Trigger conditions are restricted to the forms `parse_condition` reads, and rendering refuses
any other: the tests evaluate the same conditions against a plain `_search` response where the
Alerting plugin is not installed (tests/monitoring.py), so a monitor file cannot drift to a
form no test can check.

Applying is idempotent: monitors are found by name, updated in place when their rendered body
changed (a fingerprint is kept in `ui_metadata`), created otherwise; duplicates of a name are
deleted, so exactly one monitor per name remains.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from . import content
from .dashboards import index_pattern_title

ALERTING_PLUGIN = "opensearch-alerting"
NOTIFICATIONS_PLUGIN = "opensearch-notifications"
SILENCE_TEMPLATE = "pipeline_silence.json"

# Thresholds, overridable with LOGFERRY_ALERT_THRESHOLDS="name=value,...". A trigger fires
# when the measured value is strictly above its threshold.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "tls_scan_failures": 20,  # failed NLB handshakes from one client IP in 10 minutes
    "deprecated_tls_connections": 0,  # TLS 1.0/1.1 connections accepted in an hour
    "alb_tls_failures": 20,  # failed ALB TLS negotiations in 10 minutes (all clients)
    "vpc_admin_rejects": 20,  # rejected flows to 22/3389 from one source in 10 minutes
    "alb_5xx_ratio": 0.05,  # share of one ALB's requests answered 5xx in 10 minutes ...
    "alb_5xx_min_requests": 100,  # ... counted only when it served at least this many
    "mail_failed_deliveries": 20,  # transactions with deferred/bounced recipients, per host, 30 min
    "silence_margin_minutes": 30,  # added to a source's delivery interval (pipeline silence)
}

# How often each source delivers a log object, in minutes (pipeline silence = this + margin).
DELIVERY_MINUTES: dict[str, int] = {
    "nlb": 5,
    "alb": 5,
    "alb-connection": 5,
    "clb": 60,  # 5 or 60, as configured on the load balancer: the longer one by default
    "vpcflow": 10,
    "cloudfront": 60,
    "s3access": 120,  # best effort, usually within a few hours
    "cloudtrail": 15,
    "waf": 5,
    "mail": 10,  # as often as the mail servers' log shipper uploads
}

# Extra filters where an index pattern also matches another source's indices.
SOURCE_FILTERS: dict[str, dict[str, Any]] = {
    "alb": {"term": {"event.dataset": "aws.alb"}},  # logs-alb-* also matches logs-alb-connection-*
}

_PLACEHOLDER = re.compile(r"\$\{([a-z_][a-z0-9_]*)\}")


class MonitorError(ValueError):
    """A monitor file or setting this module refuses (unknown placeholder, condition form)."""


# -- rendering --------------------------------------------------------------------------


def thresholds(settings: Settings) -> dict[str, float]:
    values = dict(DEFAULT_THRESHOLDS)
    for name, value in settings.alert_thresholds:
        if name not in values:
            known = ", ".join(sorted(values))
            raise MonitorError(f"LOGFERRY_ALERT_THRESHOLDS: unknown threshold {name!r} ({known})")
        values[name] = value
    return values


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def render(template: Any, values: dict[str, Any]) -> Any:
    """The template with `${name}` placeholders replaced (see the module docstring)."""
    if isinstance(template, dict):
        return {key: render(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, values) for value in template]
    if not isinstance(template, str):
        return template
    whole = _PLACEHOLDER.fullmatch(template)
    if whole:
        return copy.deepcopy(_value(values, whole.group(1)))
    return _PLACEHOLDER.sub(lambda m: _text(_value(values, m.group(1))), template)


def _value(values: dict[str, Any], name: str) -> Any:
    try:
        return values[name]
    except KeyError:
        raise MonitorError(f"unknown placeholder ${{{name}}}") from None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def templates() -> dict[str, Any]:
    """The monitor files, parsed, by file name."""
    return {name: json.loads(text) for name, text in content.texts("monitors", ".json")}


def silence_sources(settings: Settings, limits: dict[str, float]) -> list[tuple[str, int]]:
    """(source, minutes without documents before paging) for every expected source."""
    margin = int(limits["silence_margin_minutes"])
    out = []
    for source, minutes in settings.alert_expected_sources:
        if source not in DELIVERY_MINUTES:
            known = ", ".join(sorted(DELIVERY_MINUTES))
            raise MonitorError(
                f"LOGFERRY_ALERT_EXPECTED_SOURCES: unknown source {source!r} ({known})"
            )
        out.append((source, minutes or DELIVERY_MINUTES[source] + margin))
    return out


def source_pattern(source: str) -> str:
    """The Dashboards index pattern of a source, for prefix `logs`."""
    if source == "alb":  # the Dashboards pattern leaves the connection-log indices out
        return "logs-alb-*,-logs-alb-connection-*"
    return f"logs-{source}-*"


def monitors(settings: Settings, destination_id: str | None = None) -> list[dict[str, Any]]:
    """Every monitor body to install; without a destination, triggers have no actions."""
    prefix = settings.index_prefix
    limits = thresholds(settings)
    common: dict[str, Any] = {
        "prefix": prefix,
        "title_suffix": "" if prefix == "logs" else f" [{prefix}]",
        "destination_id": destination_id or "",
        **{name: _number(value) for name, value in limits.items()},
    }
    out = []
    for name, template in templates().items():
        if name == SILENCE_TEMPLATE:
            for source, minutes in silence_sources(settings, limits):
                values = {
                    **common,
                    "source": source,
                    "silence_minutes": minutes,
                    "source_filter": SOURCE_FILTERS.get(source, {"match_all": {}}),
                    "index_pattern": index_pattern_title(source_pattern(source), prefix),
                }
                out.append(render(template, values))
        else:
            out.append(render(template, common))
    for monitor in out:
        for trigger in monitor["triggers"]:
            body = trigger_body(trigger)
            parse_condition(condition_source(trigger))  # refuse forms we cannot evaluate
            if destination_id is None:
                body["actions"] = []
    return out


# -- conditions -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<ref>params\.[A-Za-z_]\w*|ctx\.results\[0\](?:\.[A-Za-z_]\w*)+)"
    r"|(?P<op>>=|<=|==|>|<)|(?P<mul>\*)|(?P<and>&&))"
)

Operand = tuple[float, str | None]  # factor * value of ref (ref None: a plain number)


@dataclass(frozen=True)
class Comparison:
    left: Operand
    op: str
    right: Operand


def parse_condition(source: str) -> list[Comparison]:
    """Comparisons joined by `&&`; an operand is a number, a reference (`params.x`,
    `ctx.results[0].a.b`) or `number * reference`. Anything else is refused."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = source.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise MonitorError(f"condition {source!r}: unsupported at {text[pos : pos + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    comparisons = []
    i = 0

    def operand() -> Operand:
        nonlocal i
        kind, value = tokens[i] if i < len(tokens) else ("end", "")
        if kind == "ref":
            i += 1
            return (1.0, value)
        if kind == "num":
            i += 1
            if i < len(tokens) and tokens[i][0] == "mul":
                if i + 1 >= len(tokens) or tokens[i + 1][0] != "ref":
                    raise MonitorError(f"condition {source!r}: expected a reference after *")
                i += 2
                return (float(value), tokens[i - 1][1])
            return (float(value), None)
        raise MonitorError(f"condition {source!r}: expected a number or reference, got {value!r}")

    while True:
        left = operand()
        if i >= len(tokens) or tokens[i][0] != "op":
            raise MonitorError(f"condition {source!r}: expected a comparison operator")
        op = tokens[i][1]
        i += 1
        comparisons.append(Comparison(left, op, operand()))
        if i == len(tokens):
            return comparisons
        if tokens[i][0] != "and":
            raise MonitorError(f"condition {source!r}: expected && after a comparison")
        i += 1


def trigger_body(trigger: dict[str, Any]) -> dict[str, Any]:
    for key in ("query_level_trigger", "bucket_level_trigger"):
        if key in trigger:
            body: dict[str, Any] = trigger[key]
            return body
    return trigger


def condition_source(trigger: dict[str, Any]) -> str:
    source: str = trigger_body(trigger)["condition"]["script"]["source"]
    return source


# -- applying ---------------------------------------------------------------------------


def fingerprint(monitor: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(monitor, sort_keys=True).encode()).hexdigest()[:20]


def _status(exc: Exception) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def find(client: Any, name: str) -> list[dict[str, Any]]:
    """Monitors named exactly `name`: search hits with `_id` and `_source`."""
    body = {"size": 100, "query": {"term": {"monitor.name.keyword": name}}}
    try:
        result = client.transport.perform_request(
            "POST", "/_plugins/_alerting/monitors/_search", body=body
        )
    except Exception as exc:
        if _status(exc) == 404:  # no monitor exists yet: the config index is not there
            return []
        raise
    hits: list[dict[str, Any]] = result.get("hits", {}).get("hits", [])
    return [hit for hit in hits if _stored(hit).get("name") == name]


def _stored(hit: dict[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = hit.get("_source", {})
    inner = source.get("monitor")
    return inner if isinstance(inner, dict) else source


def _carry_ids(stored: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Keep trigger and action ids across updates, so alerts stay attached to their trigger."""
    old = {trigger_body(t).get("name"): trigger_body(t) for t in stored.get("triggers", [])}
    for trigger in wanted["triggers"]:
        body = trigger_body(trigger)
        previous = old.get(body["name"])
        if not previous or "id" not in previous:
            continue
        body["id"] = previous["id"]
        actions = {a.get("name"): a.get("id") for a in previous.get("actions", [])}
        for action in body.get("actions", []):
            if actions.get(action["name"]):
                action["id"] = actions[action["name"]]


def upsert(client: Any, monitor: dict[str, Any]) -> str:
    """Create or update the monitor named like `monitor`; one line saying what was done."""
    name = monitor["name"]
    body = copy.deepcopy(monitor)
    body["ui_metadata"] = {"logferry": {"fingerprint": fingerprint(monitor)}}
    hits = find(client, name)
    if not hits:
        client.transport.perform_request("POST", "/_plugins/_alerting/monitors", body=body)
        return f"monitor {name!r} created"
    keep, extra = hits[0], hits[1:]
    for hit in extra:
        client.transport.perform_request("DELETE", f"/_plugins/_alerting/monitors/{hit['_id']}")
    note = f" ({len(extra)} duplicate(s) deleted)" if extra else ""
    stored = _stored(keep)
    if stored.get("ui_metadata", {}).get("logferry", {}).get("fingerprint") == fingerprint(monitor):
        return f"monitor {name!r} up to date{note}"
    _carry_ids(stored, body)
    client.transport.perform_request(
        "PUT", f"/_plugins/_alerting/monitors/{keep['_id']}", body=body
    )
    return f"monitor {name!r} updated{note}"


def channel_id(prefix: str) -> str:
    return f"{prefix}-logferry-alerts"


def channel_config(settings: Settings) -> dict[str, Any]:
    sns = {"topic_arn": settings.alert_sns_topic_arn}
    if settings.alert_sns_role_arn:
        sns["role_arn"] = settings.alert_sns_role_arn
    return {
        "name": f"logferry alerts ({settings.index_prefix})",
        "description": "SNS topic the logferry monitors notify",
        "config_type": "sns",
        "is_enabled": True,
        "sns": sns,
    }


def ensure_channel(client: Any, settings: Settings) -> tuple[str, str]:
    """The Notifications channel for the SNS topic, created or updated: (config_id, note)."""
    config_id = channel_id(settings.index_prefix)
    wanted = channel_config(settings)
    path = f"/_plugins/_notifications/configs/{config_id}"
    try:
        current = client.transport.perform_request("GET", path)
    except Exception as exc:
        if _status(exc) != 404:
            raise
        client.transport.perform_request(
            "POST",
            "/_plugins/_notifications/configs",
            body={"config_id": config_id, "config": wanted},
        )
        return config_id, f"notification channel {config_id} created"
    configs = current.get("config_list") or [{}]
    existing = configs[0].get("config", {})
    if all(existing.get(key) == value for key, value in wanted.items()):
        return config_id, f"notification channel {config_id} up to date"
    client.transport.perform_request("PUT", path, body={"config": wanted})
    return config_id, f"notification channel {config_id} updated"


def apply(client: Any, settings: Settings, plugins: set[str]) -> list[str]:
    """Install every monitor (and its notification channel); one line per thing done."""
    wanted_count = len(monitors(settings))  # renders everything: bad settings fail here first
    if ALERTING_PLUGIN not in plugins:
        note = f"alerting plugin not installed: {wanted_count} monitors not applied"
        return [note]
    done = []
    destination = None
    if not settings.alert_sns_topic_arn:
        done.append("LOGFERRY_ALERT_SNS_TOPIC_ARN not set: monitors created without actions")
    elif NOTIFICATIONS_PLUGIN not in plugins:
        done.append("notifications plugin not installed: monitors created without actions")
    else:
        destination, note = ensure_channel(client, settings)
        done.append(note)
    if not settings.alert_expected_sources:
        done.append("LOGFERRY_ALERT_EXPECTED_SOURCES not set: no pipeline-silence monitors")
    done.extend(upsert(client, monitor) for monitor in monitors(settings, destination))
    return done
