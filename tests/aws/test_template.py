"""The deployment: template.yaml translated and wired as the pipeline needs, the linters and
`sam build` clean, and the setup custom resource answering CloudFormation.

The wiring tests translate the template with the SAM translator (no network: the managed
policy loader is a stub) and resolve the intrinsic functions for given parameter values, so
they check what CloudFormation would create, not the template's spelling.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from logferry.formats.fast import WRITERS as FAST_WRITERS
from tests.conftest import ROOT
from tests.support import load_script, native_compile_script, parser_corpus

TEMPLATE = ROOT / "template.yaml"
# The log-archive account's side of a cross-account deployment.
LOG_ARCHIVE = ROOT / "log-archive.yaml"
VENV_BIN = ROOT / ".venv" / "bin"
# checkov pins boto3==1.35.49, aws-sam-cli pins boto3==1.43.108: they cannot share a virtualenv,
# so checkov gets its own inside .venv (ignored by git, removed by `make clean`).
CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = ROOT / ".venv" / "checkov"

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "logferry",
    "AWS::URLSuffix": "amazonaws.com",
}


# -- translation and a small resolver of intrinsic functions -----------------------------


class _Absent:
    """AWS::NoValue: the property or list item disappears."""


NO_VALUE = _Absent()


def load_template() -> dict[str, Any]:
    from samcli.yamlhelper import yaml_parse  # type: ignore[import-untyped]

    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return template


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def translate(params: dict[str, str] | None = None) -> dict[str, Any]:
    """The CloudFormation template SAM makes of ours (local code URIs stand in as S3 URIs)."""
    from samtranslator.translator.transform import transform  # type: ignore[import-untyped]

    template = load_template()
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = f"s3://artifacts/{properties[key].strip('/')}.zip"
    result: dict[str, Any] = transform(template, dict(params or {}), _NoManagedPolicies())
    return result


class Stack:
    """The resources of a translated template as CloudFormation would see them for `params`."""

    def __init__(self, params: dict[str, str] | None = None, **pseudo: str) -> None:
        self.template = translate(params)
        self.pseudo = {**PSEUDO, **{f"AWS::{k}": v for k, v in pseudo.items()}}
        self.params: dict[str, Any] = {}
        for name, spec in self.template["Parameters"].items():
            value = (params or {}).get(name, str(spec.get("Default", "")))
            self.params[name] = value.split(",") if spec["Type"] == "CommaDelimitedList" else value
        self._conditions: dict[str, bool] = {}

    # conditions
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self._test(self.template["Conditions"][name])
        return self._conditions[name]

    def _test(self, node: Any) -> bool:
        (fn, args), *_ = node.items()
        if fn == "Condition":
            return self.condition(args)
        if fn == "Fn::Equals":
            left, right = (self.resolve(arg) for arg in args)
            return bool(left == right)
        if fn == "Fn::Not":
            return not self._test(args[0])
        if fn == "Fn::And":
            return all(self._test(arg) for arg in args)
        if fn == "Fn::Or":
            return any(self._test(arg) for arg in args)
        raise AssertionError(f"condition function {fn} not handled")

    # values
    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, args), *_ = node.items()
            handler = getattr(self, "_" + fn.replace("::", "_"), None)
            if handler is not None:
                return handler(args)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _Ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        assert name in self.template["Resources"], f"Ref to unknown {name}"
        return f"<{name}>"

    def _Fn_GetAtt(self, args: Any) -> str:
        name, attribute = args if isinstance(args, list) else args.split(".", 1)
        assert name in self.template["Resources"], f"GetAtt of unknown {name}"
        return f"<{name}.{attribute}>"

    def _Fn_Sub(self, args: Any) -> str:
        text, variables = (args, {}) if isinstance(args, str) else args
        values = {key: self.resolve(value) for key, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and name.split(".")[0] in self.template["Resources"]:
                return self._Fn_GetAtt(name)
            return str(self._Ref(name))

        return re.sub(r"\$\{([^}]+)\}", substitute, text)

    def _Fn_Join(self, args: list[Any]) -> str:
        delimiter, items = args
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _Fn_Split(self, args: list[Any]) -> list[str]:
        delimiter, text = args
        return str(self.resolve(text)).split(delimiter)

    def _Fn_Select(self, args: list[Any]) -> Any:
        index, items = args
        return self.resolve(items)[int(self.resolve(index))]

    def _Fn_If(self, args: list[Any]) -> Any:
        name, when_true, when_false = args
        return self.resolve(when_true if self.condition(name) else when_false)

    def _Fn_FindInMap(self, args: list[Any]) -> Any:
        mapping, first, second = (self.resolve(arg) for arg in args)
        return self.template["Mappings"][mapping][first][second]

    # resources
    def resources(self, type_: str | None = None) -> dict[str, dict[str, Any]]:
        """Resolved resources CloudFormation would create (their conditions hold)."""
        chosen = {}
        for name, resource in self.template["Resources"].items():
            if type_ and resource["Type"] != type_:
                continue
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            chosen[name] = self.resolve(copy.deepcopy(resource))
        return chosen

    def resource(self, name: str) -> dict[str, Any]:
        return self.resources()[name]

    def statements(self, role: str) -> list[dict[str, Any]]:
        """The role's grants: its inline policies and the role policies attached to it."""
        documents = [
            policy["PolicyDocument"] for policy in self.resource(role)["Properties"]["Policies"]
        ]
        documents += [
            policy["Properties"]["PolicyDocument"]
            for policy in self.resources("AWS::IAM::RolePolicy").values()
            if policy["Properties"]["RoleName"] == f"<{role}>"
        ]
        return [statement for document in documents for statement in document["Statement"]]

    def resources_allowed(self, role: str, action: str) -> set[str]:
        allowed: set[str] = set()
        for statement in self.statements(role):
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            if statement["Effect"] == "Allow" and action in actions:
                found = statement["Resource"]
                allowed.update(found if isinstance(found, list) else [found])
        return allowed


SOURCES = {"ExistingLogBuckets": "elb-logs,trail-logs", "NewLogBucketName": "new-logs"}
# Continuations of objects too big for one invocation spill their rest here (and read it back).
WORK_PARTS = "<DeadLetterBucket.Arn>/logferry-work/*"


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


# -- wiring -------------------------------------------------------------------------------


def test_every_queue_redrives_to_a_dead_letter_queue_kept_14_days() -> None:
    stack = Stack(SOURCES)
    queues = stack.resources("AWS::SQS::Queue")
    targets = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
        for queue in queues.values()
        if "RedrivePolicy" in queue["Properties"]
    }
    fed = {name for name, queue in queues.items() if "RedrivePolicy" in queue["Properties"]}
    dead_letter_queues = {name for name in queues if f"<{name}.Arn>" in targets}
    assert fed and dead_letter_queues
    assert fed | dead_letter_queues == set(queues), "a queue neither redrives nor is a DLQ"
    for name in dead_letter_queues:
        assert queues[name]["Properties"]["MessageRetentionPeriod"] == 1209600
    for name in fed:
        redrive = queues[name]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == "5"
    assert (
        Stack({**SOURCES, "MaxReceiveCount": "3"}).resource("IngestQueue")["Properties"][
            "RedrivePolicy"
        ]["maxReceiveCount"]
        == "3"
    )


def test_queues_and_topic_are_encrypted_with_the_stack_key() -> None:
    stack = Stack(SOURCES)
    # the queues by the key's alias (the key policy names the queues: !Ref Key would be a cycle)
    alias = stack.resource("KeyAlias")["Properties"]
    assert alias["TargetKeyId"] == "<Key>"
    alias_arn = f"arn:aws:kms:us-east-1:123456789012:{alias['AliasName']}"
    for queue in stack.resources("AWS::SQS::Queue").values():
        assert queue["Properties"]["KmsMasterKeyId"] == alias_arn
    china = Stack(SOURCES, Partition="aws-cn", Region="cn-north-1")
    assert china.resource("IngestQueue")["Properties"]["KmsMasterKeyId"].startswith(
        "arn:aws-cn:kms:cn-north-1:123456789012:alias/"
    )
    # whatever sends to the queues waits for the alias
    template = stack.template["Resources"]
    for sender in ("LogBucket", "ExistingBucketsRule"):
        assert "KeyAlias" in as_list(template[sender]["DependsOn"]), sender
    assert stack.resource("AlarmTopic")["Properties"]["KmsMasterKeyId"] == "<Key>"
    services: dict[str, set[str]] = {}
    for statement in stack.resource("Key")["Properties"]["KeyPolicy"]["Statement"]:
        named = statement["Principal"].get("Service", [])
        for service in [named] if isinstance(named, str) else named:
            actions = statement["Action"]
            services.setdefault(service, set()).update(
                [actions] if isinstance(actions, str) else actions
            )
    # S3 notifications, EventBridge rules and alarms can use the key of the queues and topic
    for service in ("s3.amazonaws.com", "events.amazonaws.com", "cloudwatch.amazonaws.com"):
        assert "kms:Decrypt" in services[service]
        assert services[service] & {"kms:GenerateDataKey", "kms:GenerateDataKey*"}


def test_event_source_reports_batch_item_failures_with_bounded_concurrency() -> None:
    [mapping] = Stack(SOURCES).resources("AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["EventSourceArn"] == "<IngestQueue.Arn>"
    assert properties["ScalingConfig"]["MaximumConcurrency"] == "5"
    assert int(load_template()["Parameters"]["MaximumConcurrency"]["MinValue"]) >= 2
    overridden = Stack({**SOURCES, "MaximumConcurrency": "12", "BatchSize": "4"})
    [mapping] = overridden.resources("AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"] == "12"
    assert mapping["Properties"]["BatchSize"] == "4"


@pytest.mark.parametrize(
    "timeout", load_template()["Parameters"]["FunctionTimeout"]["AllowedValues"]
)
def test_visibility_timeout_outlasts_six_function_timeouts(timeout: str) -> None:
    stack = Stack({**SOURCES, "FunctionTimeout": timeout})
    function = stack.resource("IngestFunction")["Properties"]
    queue = stack.resource("IngestQueue")["Properties"]
    assert function["Timeout"] == timeout
    assert int(queue["VisibilityTimeout"]) >= 6 * int(timeout)
    # and the longest batch window on top, so a batch still waiting is not redelivered
    assert int(queue["VisibilityTimeout"]) >= 6 * int(timeout) + 300


def test_ingest_reads_exactly_the_named_buckets() -> None:
    stack = Stack(SOURCES)
    assert stack.resources_allowed("IngestRole", "s3:GetObject") == {
        "arn:aws:s3:::elb-logs/*",
        "arn:aws:s3:::trail-logs/*",
        "arn:aws:s3:::new-logs/*",
        WORK_PARTS,
    }
    assert stack.resources_allowed("IngestRole", "s3:ListBucket") == {
        "arn:aws:s3:::elb-logs",
        "arn:aws:s3:::trail-logs",
        "arn:aws:s3:::new-logs",
    }
    only_existing = Stack({"ExistingLogBuckets": "a-logs"})
    assert only_existing.resources_allowed("IngestRole", "s3:GetObject") == {
        "arn:aws:s3:::a-logs/*",
        WORK_PARTS,
    }
    only_new = Stack({"NewLogBucketName": "new-logs"})
    assert only_new.resources_allowed("IngestRole", "s3:GetObject") == {
        "arn:aws:s3:::new-logs/*",
        WORK_PARTS,
    }
    assert "ExistingBucketsRule" not in only_new.resources()


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_bucket_arns_follow_the_partition(partition: str) -> None:
    stack = Stack(SOURCES, Partition=partition)
    assert stack.resources_allowed("IngestRole", "s3:GetObject") - {WORK_PARTS} == {
        f"arn:{partition}:s3:::elb-logs/*",
        f"arn:{partition}:s3:::trail-logs/*",
        f"arn:{partition}:s3:::new-logs/*",
    }


def test_ingest_writes_only_dead_letters_and_calls_only_the_domain() -> None:
    stack = Stack(SOURCES)
    assert stack.resources_allowed("IngestRole", "s3:PutObject") == {
        "<DeadLetterBucket.Arn>/logferry-deadletter/*",
        WORK_PARTS,
    }
    assert stack.resources_allowed("IngestRole", "sqs:SendMessage") == {"<IngestQueue.Arn>"}
    assert stack.resources_allowed("IngestRole", "es:ESHttpPost") == {
        "<Domain.Arn>",
        "<Domain.Arn>/*",
    }
    actions = {
        action
        for statement in stack.statements("IngestRole")
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert not {a for a in actions if a.endswith("*")}, "no wildcard actions"
    assert not {"es:ESHttpDelete", "es:ESHttpPut", "s3:DeleteObject"} & actions
    existing = Stack(
        {
            **SOURCES,
            "ExistingDomainEndpoint": "vpc-logs-x.eu-west-1.es.amazonaws.com",
            "ExistingDomainName": "logs",
        }
    )
    arn = "arn:aws:es:us-east-1:123456789012:domain/logs"
    assert existing.resources_allowed("IngestRole", "es:ESHttpPost") == {arn, f"{arn}/*"}


def test_queue_policy_admits_only_the_new_bucket_and_the_rule_of_this_account() -> None:
    stack = Stack(SOURCES)
    statements = stack.resource("IngestQueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert {json.dumps(s["Principal"], sort_keys=True) for s in allows} == {
        '{"Service": "s3.amazonaws.com"}',
        '{"Service": "events.amazonaws.com"}',
    }
    for statement in allows:
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert {s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in allows} == {
        "arn:aws:s3:::new-logs",
        "<ExistingBucketsRule.Arn>",
    }
    rule = stack.resource("ExistingBucketsRule")["Properties"]
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == ["elb-logs", "trail-logs"]
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["Targets"][0]["Arn"] == "<IngestQueue.Arn>"
    # the queue must admit S3 before the bucket's notification configuration is set
    template = stack.template["Resources"]
    assert "IngestQueuePolicy" in template["LogBucket"]["DependsOn"]
    notification = stack.resource("LogBucket")["Properties"]["NotificationConfiguration"]
    assert notification["QueueConfigurations"][0]["Queue"] == "<IngestQueue.Arn>"


def test_setup_resource_properties_change_when_the_settings_change() -> None:
    def properties(params: dict[str, str]) -> dict[str, Any]:
        [resource] = Stack({**SOURCES, **params}).resources("Custom::LogferrySetup").values()
        found: dict[str, Any] = resource["Properties"]
        return found

    base = properties({})
    assert base["ServiceToken"] == "<SetupFunction.Arn>"
    assert base == properties({}), "properties must be stable when nothing changes"
    for change in (
        {"RetentionDays": "30"},
        {"IndexPrefix": "weblogs"},
        {
            "ExistingDomainEndpoint": "search-x.us-east-1.es.amazonaws.com",
            "ExistingDomainName": "x",
        },
        {"AlertExpectedSources": "nlb,alb=45"},
    ):
        assert properties(change) != base, f"{change} would not re-run setup"
    # a new layer version (new formats, new mappings) re-runs it too
    assert base["Code"].startswith("<LogferryLayer")
    assert base["Settings"]["OPENSEARCH_URL"] == "https://<Domain.DomainEndpoint>"


def test_setup_gets_the_retention_tiers_only_when_set() -> None:
    from logferry.config import Settings

    def settings(params: dict[str, str]) -> dict[str, str]:
        [resource] = Stack({**SOURCES, **params}).resources("Custom::LogferrySetup").values()
        found: dict[str, str] = resource["Properties"]["Settings"]
        return found

    unset = settings({})
    assert not {key for key in unset if "AFTER_DAYS" in key}, "unset: no tiers"
    assert Settings.from_env(unset).warm_after_days is None
    tiered = settings({"WarmAfterDays": "7", "ColdAfterDays": "30", "RetentionDays": "365"})
    assert (tiered["LOGFERRY_WARM_AFTER_DAYS"], tiered["LOGFERRY_COLD_AFTER_DAYS"]) == ("7", "30")
    found = Settings.from_env(tiered)
    assert (found.warm_after_days, found.cold_after_days, found.retention_days) == (7, 30, 365)
    cold = settings({"ColdAfterDays": "30"})
    assert "LOGFERRY_WARM_AFTER_DAYS" not in cold
    assert Settings.from_env(cold).cold_after_days == 30
    # a change of tiers changes the resource's properties: setup runs again
    assert settings({"WarmAfterDays": "14"}) != unset
    # the ingest function moves no index: it does not get them
    assert not {key for key in ingest_env(SOURCES) if "AFTER_DAYS" in key}
    assert not {
        key
        for key in ingest_env({**SOURCES, "WarmAfterDays": "7", "ColdAfterDays": "30"})
        if "AFTER_DAYS" in key
    }
    # out of order (warm 40 > cold 30): setup refuses, naming the variable, and so the deployment
    with pytest.raises(ValueError, match=r"^LOGFERRY_COLD_AFTER_DAYS:"):
        Settings.from_env(settings({"WarmAfterDays": "40", "ColdAfterDays": "30"}))


def test_ingest_starts_consuming_only_after_setup_applied_the_template() -> None:
    resources = translate(SOURCES)["Resources"]
    depends = resources["IngestFunction"].get("DependsOn", [])
    assert "Setup" in ([depends] if isinstance(depends, str) else depends)
    [mapping] = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mapping["Properties"]["FunctionName"] == {"Ref": "IngestFunction"}
    # and the setup does not wait for the ingest function (no cycle)
    assert "IngestFunction" not in json.dumps(resources["Setup"])


def test_functions_get_settings_but_no_secrets_from_the_environment() -> None:
    stack = Stack({**SOURCES, "FormatPrefixes": "mail/=postfix"})
    for name in ("IngestFunction", "SetupFunction"):
        env = stack.resource(name)["Properties"]["Environment"]["Variables"]
        assert env["LOGFERRY_FORMAT_PREFIXES"] == "mail/=postfix"
        assert env["LOGFERRY_DEADLETTER_BUCKET"] == "<DeadLetterBucket>"
        assert env["POWERTOOLS_SERVICE_NAME"] == "logferry"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Logferry"
        assert env["LOGFERRY_QUEUE_URL"] == "<IngestQueue>"
        assert not [key for key in env if re.search("PASSWORD|SECRET|TOKEN", key)]
        assert "{{resolve:" not in json.dumps(env)
    master = stack.resource("Domain")["Properties"]["AdvancedSecurityOptions"]["MasterUserOptions"]
    assert master["MasterUserPassword"].startswith("{{resolve:secretsmanager:<MasterUserSecret>")


def test_new_domain_is_encrypted_https_only_with_fine_grained_access() -> None:
    domain = Stack(SOURCES).resource("Domain")
    properties = domain["Properties"]
    assert properties["EncryptionAtRestOptions"]["Enabled"] is True
    assert properties["NodeToNodeEncryptionOptions"]["Enabled"] is True
    assert properties["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert properties["DomainEndpointOptions"]["TLSSecurityPolicy"].startswith("Policy-Min-TLS-1-2")
    assert properties["AdvancedSecurityOptions"]["Enabled"] is True
    assert properties["EBSOptions"]["VolumeType"] == "gp3"
    assert domain["DeletionPolicy"] == "Retain"
    assert "VPCOptions" not in properties


def test_existing_domain_creates_no_domain_nor_secret() -> None:
    stack = Stack(
        {
            **SOURCES,
            "ExistingDomainEndpoint": "search-logs-x.us-east-1.es.amazonaws.com",
            "ExistingDomainName": "logs",
        }
    )
    names = set(stack.resources())
    assert not {"Domain", "MasterUserSecret", "DomainLogGroup"} & names
    env = stack.resource("IngestFunction")["Properties"]["Environment"]["Variables"]
    assert env["OPENSEARCH_URL"] == "https://search-logs-x.us-east-1.es.amazonaws.com"
    setup = stack.resource("Setup")["Properties"]
    assert setup["MasterUserSecretArn"] == ""
    outputs = stack.resolve(stack.template["Outputs"]["DashboardsUrl"]["Value"])
    assert outputs == "https://search-logs-x.us-east-1.es.amazonaws.com/_dashboards"


def test_vpc_parameters_place_the_functions_and_the_domain() -> None:
    stack = Stack({**SOURCES, "SubnetIds": "subnet-a,subnet-b", "SecurityGroupIds": "sg-1"})
    for name in ("IngestFunction", "SetupFunction"):
        vpc = stack.resource(name)["Properties"]["VpcConfig"]
        assert vpc == {"SubnetIds": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]}
    assert stack.resource("Domain")["Properties"]["VPCOptions"] == {
        "SubnetIds": ["subnet-a"],
        "SecurityGroupIds": ["sg-1"],
    }
    assert "VpcConfig" not in Stack(SOURCES).resource("IngestFunction")["Properties"]


def test_alarms_watch_the_dead_letter_queue_errors_throttles_lag_and_failures() -> None:
    stack = Stack({**SOURCES, "IngestLagThreshold": "600", "AlarmEmail": "oncall@example.com"})
    alarms = {
        (alarm["Properties"]["Namespace"], alarm["Properties"]["MetricName"]): alarm["Properties"]
        for alarm in stack.resources("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("Logferry", "IngestLag"),
        ("Logferry", "DocumentsFailed"),
        ("Logferry", "DeadLetters"),
        ("AWS/Events", "FailedInvocations"),
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == ["<AlarmTopic>"]
    assert alarms[("AWS/Events", "FailedInvocations")]["Dimensions"] == [
        {"Name": "RuleName", "Value": "<ExistingBucketsRule>"}
    ]
    only_new = Stack({"NewLogBucketName": "new-logs"}).resources("AWS::CloudWatch::Alarm")
    assert "FailedInvocations" not in {a["Properties"]["MetricName"] for a in only_new.values()}
    assert alarms[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]["Dimensions"] == [
        {"Name": "QueueName", "Value": "<IngestDeadLetterQueue.QueueName>"}
    ]
    assert alarms[("Logferry", "IngestLag")]["Threshold"] == "600"
    assert alarms[("Logferry", "IngestLag")]["Dimensions"] == [
        {"Name": "service", "Value": "logferry"}
    ]
    assert (
        stack.resource("AlarmEmailSubscription")["Properties"]["Endpoint"] == "oncall@example.com"
    )
    assert "AlarmEmailSubscription" not in Stack(SOURCES).resources()


def test_alerts_role_is_assumed_by_opensearch_and_only_publishes_to_the_topic() -> None:
    stack = Stack(SOURCES)
    role = stack.resource("OpenSearchAlertsRole")["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "opensearchservice.amazonaws.com"}
    assert stack.resources_allowed("OpenSearchAlertsRole", "sns:Publish") == {"<AlarmTopic>"}
    assert "OpenSearchAlertsRoleArn" in stack.template["Outputs"]


# -- who reaches the domain, the key and the queue ------------------------------------------

ANALYSTS = {
    "AnalystPrincipalArn": "arn:aws:iam::123456789012:role/analysts",
    "AnalystCidr": "203.0.113.0/24",
}


def domain_statements(stack: Stack) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = stack.resource("Domain")["Properties"]["AccessPolicies"][
        "Statement"
    ]
    return statements


def principals(statement: dict[str, Any]) -> list[str]:
    principal = statement["Principal"]
    named = principal.get("AWS", []) if isinstance(principal, dict) else principal
    return named if isinstance(named, list) else [named]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_new_domain_admits_the_stack_roles_and_the_master_user_only_for_role_mapping() -> None:
    stack = Stack(SOURCES)
    statements = domain_statements(stack)
    assert {s["Effect"] for s in statements} == {"Allow"}
    # signed requests: the roles the two functions run as, nobody else
    signed = {p for s in statements for p in principals(s) if p != "*"}
    function_roles = {
        stack.resource(name)["Properties"]["Role"] for name in ("IngestFunction", "SetupFunction")
    }
    assert signed == function_roles == {"<IngestRole.Arn>", "<SetupRole.Arn>"}
    # unsigned requests (anybody's, as far as IAM can tell): only the master user's basic-auth
    # calls of the setup function, on the security API paths of the two logferry roles
    anonymous = [s for s in statements if "*" in principals(s)]
    assert anonymous, "the setup function's master-user requests would not reach the domain"
    domain = "arn:aws:es:us-east-1:123456789012:domain/*/"
    allowed_paths = [r.removeprefix(domain) for s in anonymous for r in as_list(s["Resource"])]
    for statement in anonymous:
        assert "Condition" not in statement
        assert set(as_list(statement["Action"])) <= {"es:ESHttpGet", "es:ESHttpPut"}
        for resource in as_list(statement["Resource"]):
            assert resource.startswith(domain), resource
    for path in allowed_paths:
        assert re.fullmatch(
            r"_plugins/_security/(authinfo|api/(roles|rolesmapping)/logferry_\*)", path
        ), path
    app = load_setup_app()
    needed = ["_plugins/_security/authinfo"] + [
        f"_plugins/_security/api/{kind}/{name}"
        for kind in ("roles", "rolesmapping")
        for name in (app.WRITER_ROLE, app.SETUP_ROLE, "logferry_reader")
    ]
    for path in needed:
        assert any(fnmatch.fnmatchcase(path, allowed) for allowed in allowed_paths), path
    # fine-grained access control stays the second gate
    security = stack.resource("Domain")["Properties"]["AdvancedSecurityOptions"]
    assert security["Enabled"] is True and security["InternalUserDatabaseEnabled"] is True


def test_analyst_principal_and_network_are_admitted_only_when_set() -> None:
    def added(params: dict[str, str]) -> list[dict[str, Any]]:
        base = {json.dumps(s, sort_keys=True) for s in domain_statements(Stack(SOURCES))}
        return [
            s
            for s in domain_statements(Stack({**SOURCES, **params}))
            if json.dumps(s, sort_keys=True) not in base
        ]

    [by_role] = added({"AnalystPrincipalArn": ANALYSTS["AnalystPrincipalArn"]})
    assert principals(by_role) == ["arn:aws:iam::123456789012:role/analysts"]
    assert "Condition" not in by_role
    [by_network] = added({"AnalystCidr": ANALYSTS["AnalystCidr"]})
    assert principals(by_network) == ["*"]
    assert by_network["Condition"] == {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    for statement in (by_role, by_network):
        assert statement["Action"] == "es:ESHttp*"
        assert statement["Resource"] == "arn:aws:es:us-east-1:123456789012:domain/*/*"
    assert len(added(ANALYSTS)) == 2
    assert not any("Condition" in s for s in domain_statements(Stack(SOURCES)))


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        (
            "AnalystPrincipalArn",
            ["", "arn:aws:iam::123456789012:role/analysts", "arn:aws-cn:iam::123456789012:user/a"],
            ["analysts", "arn:aws:iam::123456789012:root", "arn:aws:iam::*:role/x", "*"],
        ),
        (
            "AnalystCidr",
            ["", "203.0.113.0/24", "198.51.100.7/32"],
            ["203.0.113.0", "0.0.0.0/33", "any", "2001:db8::/32"],
        ),
        ("AcceptDaysBack", ["", "1", "30", "400"], ["0", "-1", "7d", " "]),
        ("WarmAfterDays", ["", "1", "7", "400"], ["0", "-1", "7d", " ", "07"]),
        ("ColdAfterDays", ["", "1", "30", "400"], ["0", "-1", "30d", " ", "030"]),
        ("SourceOrganizationId", ["", "o-abcdef1234"], ["abcdef1234", "o-", "r-abcd1234ef"]),
        ("ServerlessCollectionName", ["", "logs", "logferry-prod"], ["Logs", "1logs", "lo", "a_b"]),
        (
            "SourceRoleArns",
            [
                "",
                "org-log-*=arn:aws:iam::222233334444:role/logferry-read-ingest",
                "a=arn:aws:iam::222233334444:role/logferry-read-a,b*=arn:aws-cn:iam::"
                "222233334444:role/logferry-read-b",
            ],
            [
                "arn:aws:iam::222233334444:role/logferry-read-a",
                "a=arn:aws:iam::222233334444:role/admin",
                "a=arn:aws:iam::2222:role/logferry-read-a",
                "a=arn:aws:iam::222233334444:role/logferry-read-a,",
            ],
        ),
        (
            "OrganizationsRoleArn",
            ["", "arn:aws:iam::999988887777:role/org-reader"],
            ["org-reader", "arn:aws:iam::999988887777:user/x"],
        ),
    ],
)
def test_new_parameters_accept_only_what_they_mean(
    parameter: str, good: list[str], bad: list[str]
) -> None:
    # CloudFormation matches AllowedPattern against the whole value.
    pattern = load_template()["Parameters"][parameter]["AllowedPattern"]
    assert [value for value in good if not re.fullmatch(pattern, value)] == []
    assert [value for value in bad if re.fullmatch(pattern, value)] == []


def test_analyst_parameters_are_refused_where_they_cannot_apply() -> None:
    rules = load_template()["Rules"]
    refused: dict[str, set[str]] = {}
    for rule in rules.values():
        for name in ("AnalystPrincipalArn", "AnalystCidr"):
            if name in json.dumps(rule["Assertions"]):
                refused.setdefault(name, set()).add(json.dumps(rule.get("RuleCondition")))
    # an existing domain's policy is not the stack's; a VPC domain takes no IP-based policy
    assert any("ExistingDomainEndpoint" in c for c in refused["AnalystPrincipalArn"])
    assert any("ExistingDomainEndpoint" in c for c in refused["AnalystCidr"])
    assert any("SubnetIds" in c for c in refused["AnalystCidr"])


def test_roles_get_the_domain_before_their_functions_call_it() -> None:
    resources = translate(SOURCES)["Resources"]
    stack = Stack(SOURCES)
    for role, caller in (("IngestRole", "IngestFunction"), ("SetupRole", "Setup")):
        granted = {
            name
            for name, policy in stack.resources("AWS::IAM::RolePolicy").items()
            if policy["Properties"]["RoleName"] == f"<{role}>"
            and "<Domain.Arn>" in json.dumps(policy["Properties"]["PolicyDocument"])
        }
        assert granted, f"{role}: no role policy on the domain"
        # the role itself names no domain: the domain's access policy names the role
        assert "Domain" not in references(resources[role], set(resources))
        depends = set(as_list(resources[caller].get("DependsOn", [])))
        assert granted <= depends, f"{caller} may start before {role} may call the domain"


def references(node: Any, names: set[str]) -> set[str]:
    """The resources a template node refers to (Ref, Fn::GetAtt, ${...} of Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item, names)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found |= {value} & names
            elif key == "Fn::GetAtt":
                found |= {value[0] if isinstance(value, list) else value.split(".")[0]} & names
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)} & names
                found |= references(variables, names)
            else:
                found |= references(value, names)
    return found


def test_resources_depend_on_each_other_without_a_cycle() -> None:
    # CloudFormation refuses a template with a circular dependency before creating anything.
    resources = translate({**SOURCES, **ANALYSTS})["Resources"]
    names = set(resources)
    edges = {
        name: references(resource, names) | set(as_list(resource.get("DependsOn", [])))
        for name, resource in resources.items()
    }
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join([*path, name])
        if name in done:
            return
        for target in sorted(edges[name]):
            visit(target, (*path, name))
        done.add(name)

    for name in sorted(names):
        visit(name, ())
    assert {"Key", "ExistingBucketsRule"} <= done


def key_statements(stack: Stack) -> dict[str, dict[str, Any]]:
    """The key policy's statements for AWS services, by service principal."""
    found: dict[str, dict[str, Any]] = {}
    for statement in stack.resource("Key")["Properties"]["KeyPolicy"]["Statement"]:
        for service in as_list(statement["Principal"].get("Service", [])):
            assert service not in found, f"{service} in two statements"
            found[service] = statement
    return found


def test_key_serves_services_only_for_this_account_and_the_stack_sources() -> None:
    stack = Stack(SOURCES)
    services = key_statements(stack)
    for service, statement in services.items():
        conditions = {key for test in statement.get("Condition", {}).values() for key in test}
        assert "aws:SourceAccount" in conditions or any(
            key.startswith("kms:EncryptionContext:") for key in conditions
        ), f"{service} may use the key on anyone's behalf"
    # S3's requests carry their source: this account's new bucket only
    s3 = services["s3.amazonaws.com"]["Condition"]
    assert s3["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert s3["ArnLike"] == {"aws:SourceArn": "arn:aws:s3:::new-logs"}
    # EventBridge's carry no source (such conditions would refuse every delivery): the
    # encryption context SQS sets binds the key to the rule's target and dead-letter queues
    events = services["events.amazonaws.com"]["Condition"]
    keys = {key for test in events.values() for key in test}
    assert not keys & {"aws:SourceAccount", "aws:SourceArn"}
    assert events == {
        "StringEquals": {
            "kms:EncryptionContext:aws:sqs:arn": [
                "<IngestQueue.Arn>",
                "<IngestDeadLetterQueue.Arn>",
            ]
        }
    }
    [target] = stack.resource("ExistingBucketsRule")["Properties"]["Targets"]
    assert {target["Arn"], target["DeadLetterConfig"]["Arn"]} == set(
        events["StringEquals"]["kms:EncryptionContext:aws:sqs:arn"]
    )
    # the rule keeps its generated name: nothing needs to know it beforehand
    assert "Name" not in stack.resource("ExistingBucketsRule")["Properties"]
    # the queue policy admits the same two sources, by source ARN and account
    queue_policy = stack.resource("IngestQueuePolicy")["Properties"]["PolicyDocument"]
    for statement in queue_policy["Statement"]:
        if statement["Effect"] == "Allow":
            assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
            assert "aws:SourceArn" in statement["Condition"]["ArnEquals"]
    # a source the stack does not have gets no grant
    assert set(key_statements(Stack({"NewLogBucketName": "new-logs"}))) == {
        "s3.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "logs.us-east-1.amazonaws.com",
    }
    assert "s3.amazonaws.com" not in key_statements(Stack({"ExistingLogBuckets": "a-logs"}))
    china = key_statements(Stack(SOURCES, Partition="aws-cn"))
    assert china["s3.amazonaws.com"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws-cn:s3:::new-logs"
    }


def ingest_env(params: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = Stack(params).resource("IngestFunction")["Properties"]["Environment"][
        "Variables"
    ]
    return env


@pytest.mark.parametrize(
    ("params", "buckets"),
    [
        (SOURCES, "elb-logs,trail-logs,new-logs"),
        ({"ExistingLogBuckets": "a-logs,b-logs"}, "a-logs,b-logs"),
        ({"NewLogBucketName": "new-logs"}, "new-logs"),
    ],
)
def test_ingest_function_reads_from_the_stack_sources_only(
    params: dict[str, str], buckets: str
) -> None:
    from logferry.config import Settings

    env = ingest_env(params)
    assert env["LOGFERRY_SOURCE_BUCKETS"] == buckets
    assert Settings.from_env(env).source_buckets == tuple(buckets.split(","))
    # the same buckets the role may read
    readable = Stack(params).resources_allowed("IngestRole", "s3:GetObject") - {WORK_PARTS}
    assert {arn.removeprefix("arn:aws:s3:::").removesuffix("/*") for arn in readable} == set(
        buckets.split(",")
    )


ESTATE = {
    "ExistingLogBuckets": "org-log-archive",
    "SourceAccountIds": "222233334444,555566667777",
    "SourceOrganizationId": "o-abcdef1234",
    "SourceRoleArns": "org-log-*=arn:aws:iam::222233334444:role/logferry-read-ingest",
    "AccountPrefixes": "cloudfront/=222233334444",
    "OrganizationsRoleArn": "arn:aws:iam::999988887777:role/org-reader",
    "LogGroups": "/corp/flows/*=vpcflow",
}


def by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {statement.get("Sid", ""): statement for statement in statements}


def test_other_accounts_notify_forward_and_are_read_through_their_roles() -> None:
    from logferry.config import Settings

    stack = Stack(ESTATE)
    accounts = ["222233334444", "555566667777"]
    queue = by_sid(stack.resource("IngestQueuePolicy")["Properties"]["PolicyDocument"]["Statement"])
    key = by_sid(stack.resource("Key")["Properties"]["KeyPolicy"]["Statement"])
    for statements in (queue, key):
        by_account = (
            statements.get("SourceAccountBucketsNotify")
            or statements["SourceAccountBucketsSendToEncryptedQueue"]
        )
        assert by_account["Principal"] == {"Service": "s3.amazonaws.com"}
        assert by_account["Condition"]["StringEquals"] == {"aws:SourceAccount": accounts}
        by_organization = (
            statements.get("SourceOrganizationBucketsNotify")
            or statements["SourceOrganizationBucketsSendToEncryptedQueue"]
        )
        assert by_organization["Condition"]["StringEquals"] == {"aws:SourceOrgID": "o-abcdef1234"}
    assert queue["SourceAccountBucketsNotify"]["Resource"] == "<IngestQueue.Arn>"
    # Forwarded events: this account's default bus admits the accounts and the organization.
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/default"
    named = stack.resource("SourceAccountsPutEvents")["Properties"]["Statement"]
    assert named["Principal"] == {"AWS": accounts}
    assert (named["Action"], named["Resource"]) == ("events:PutEvents", bus)
    organization = stack.resource("SourceOrganizationPutEvents")["Properties"]["Statement"]
    assert organization["Principal"] == "*"
    assert organization["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}}
    # The role may assume the archive's read roles and the Organizations role, nothing else.
    assert stack.resources_allowed("IngestRole", "sts:AssumeRole") == {
        "arn:aws:iam::*:role/logferry-read-*",
        "arn:aws:iam::999988887777:role/org-reader",
    }
    settings = Settings.from_env(ingest_env(ESTATE))
    assert settings.source_role_arns == (
        ("org-log-*", "arn:aws:iam::222233334444:role/logferry-read-ingest"),
    )
    assert settings.account_prefixes == (("cloudfront/", "222233334444", None),)
    assert settings.organizations
    assert settings.organizations_role_arn == "arn:aws:iam::999988887777:role/org-reader"
    assert settings.log_groups == (("/corp/flows/*", "vpcflow"),)
    # Without them, no other account is admitted or assumed.
    alone = Stack(SOURCES)
    assert not {"SourceAccountsPutEvents", "SourceOrganizationPutEvents"} & set(alone.resources())
    assert alone.resources_allowed("IngestRole", "sts:AssumeRole") == set()
    statements = alone.resource("IngestQueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert not {"SourceAccountBucketsNotify", "SourceOrganizationBucketsNotify"} & set(
        by_sid(statements)
    )
    env = Settings.from_env(ingest_env(SOURCES))
    assert (env.source_role_arns, env.organizations) == ((), False)


def test_log_archive_lends_a_read_role_only_the_ingest_role_can_assume() -> None:
    from samcli.yamlhelper import yaml_parse

    archive = yaml_parse(LOG_ARCHIVE.read_text())["Resources"]
    role = archive["ReadRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Ref": "IngestRoleArn"}}
    assert trust["Action"] == "sts:AssumeRole"
    # Its name is one the ingest role may assume (the ingest template's logferry-read-*).
    assumable = Stack(ESTATE).resources_allowed("IngestRole", "sts:AssumeRole")
    pattern = next(arn for arn in assumable if arn.endswith("logferry-read-*"))
    name = role["RoleName"]["Fn::Sub"].replace("${AWS::StackName}", "ingest-archive")
    assert fnmatch.fnmatchcase(f"arn:aws:iam::222233334444:role/{name}", pattern)
    statements = by_sid(role["Policies"][0]["PolicyDocument"]["Statement"][:2])
    assert statements["ReadLogObjects"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statements["ListLogBuckets"]["Action"] == "s3:ListBucket"
    decrypt = role["Policies"][0]["PolicyDocument"]["Statement"][2]["Fn::If"][1]
    assert decrypt["Action"] == "kms:Decrypt"
    assert "kms:ViaService" in decrypt["Condition"]["StringEquals"]
    # Forwarding: the archive buckets' new objects go to the ingest account's bus, by a role.
    rule = archive["ForwardRule"]["Properties"]
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == {"Ref": "LogBucketNames"}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Ref": "IngestEventBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardRole", "Arn"]}
    # ... which ExistingBucketsRule of the ingest account takes to its queue.
    pattern_there = Stack(ESTATE).resource("ExistingBucketsRule")["Properties"]["EventPattern"]
    assert pattern_there["detail-type"] == rule["EventPattern"]["detail-type"]


def test_a_serverless_collection_replaces_the_domain() -> None:
    from logferry.config import Settings

    params = {**SOURCES, "ServerlessCollectionName": "logs"}
    stack = Stack(params)
    resources = stack.resources()
    assert "Domain" not in resources and "MasterUserSecret" not in resources
    assert resources["Collection"]["Properties"]["Type"] == "TIMESERIES"
    settings = Settings.from_env(ingest_env(params))
    assert settings.opensearch_url == "<Collection.CollectionEndpoint>"
    assert (settings.serverless, settings.sends_ids, settings.aoss_collection) == (
        True,
        False,
        "logs",
    )
    assert settings.cluster.serverless  # signed for aoss
    access = json.loads(resources["CollectionDataAccess"]["Properties"]["Policy"])
    assert access[0]["Principal"] == ["<IngestRole.Arn>", "<SetupRole.Arn>"]
    [index_rule] = [r for r in access[0]["Rules"] if r["ResourceType"] == "index"]
    assert index_rule["Resource"] == ["index/logs/logs-*"]
    encryption = json.loads(resources["CollectionEncryption"]["Properties"]["Policy"])
    assert encryption["KmsARN"] == "<Key.Arn>" and encryption["AWSOwnedKey"] is False
    for role in ("IngestRole", "SetupRole"):
        assert stack.resources_allowed(role, "aoss:APIAccessAll") == {"<Collection.Arn>"}
        assert not any(
            action.startswith("es:")
            for statement in stack.statements(role)
            for action in as_list(statement["Action"])
        )
    assert stack.resources_allowed("SetupRole", "aoss:CreateLifecyclePolicy") == {"*"}
    setup = resources["Setup"]["Properties"]
    assert setup["DataAccessPolicy"] == "<CollectionDataAccess>"
    assert setup["Settings"]["LOGFERRY_TARGET"] == "aoss"
    search = Settings.from_env(ingest_env({**params, "ServerlessCollectionType": "SEARCH"}))
    assert search.sends_ids
    # Without it, a domain as before.
    domain = Settings.from_env(ingest_env(SOURCES))
    assert (domain.target, domain.sends_ids) == ("opensearch", True)
    assert "Collection" not in Stack(SOURCES).resources()


def test_ingest_function_gets_the_acceptance_bounds() -> None:
    from logferry.config import ACCEPT_MARGIN_DAYS, Settings

    env = ingest_env(SOURCES)
    # the global settings are still there (the function's variables are added to them)
    assert env["OPENSEARCH_URL"] == "https://<Domain.DomainEndpoint>"
    assert env["LOGFERRY_ACCEPT_DAYS_AHEAD"] == "1"
    assert env["LOGFERRY_MAX_INDICES_PER_OBJECT"] == "200"
    assert "LOGFERRY_ACCEPT_DAYS_BACK" not in env, "unset: the retention period plus a margin"
    settings = Settings.from_env(env)
    assert settings.days_back == 90 + ACCEPT_MARGIN_DAYS
    assert (settings.accept_days_ahead, settings.max_indices_per_object) == (1, 200)
    assert (settings.max_rejections_kept, settings.max_objects_per_message) == (1_000_000, 10)

    env = ingest_env(
        {**SOURCES, "AcceptDaysBack": "30", "AcceptDaysAhead": "0", "MaxIndicesPerObject": "50"}
    )
    assert env["LOGFERRY_ACCEPT_DAYS_BACK"] == "30"
    assert env["LOGFERRY_ACCEPT_DAYS_AHEAD"] == "0"
    assert env["LOGFERRY_MAX_INDICES_PER_OBJECT"] == "50"
    settings = Settings.from_env(env)
    assert (settings.days_back, settings.accept_days_ahead) == (30, 0)
    assert settings.max_indices_per_object == 50
    env = ingest_env({**SOURCES, "MaxRejectionsKept": "5000", "MaxObjectsPerMessage": "3"})
    assert env["LOGFERRY_MAX_REJECTIONS_KEPT"] == "5000"
    assert env["LOGFERRY_MAX_OBJECTS_PER_MESSAGE"] == "3"
    # the setup function indexes nothing: it does not get them
    setup = Stack(SOURCES).resource("SetupFunction")["Properties"]["Environment"]["Variables"]
    assert not {key for key in setup if "ACCEPT" in key or "SOURCE_BUCKETS" in key}


def test_every_checkov_suppression_carries_its_reason() -> None:
    skips = [
        (name, skip)
        for name, resource in load_template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "")) > 20, f"{name}: {skip['id']} has no reason"


# -- linters and build (slow) -------------------------------------------------------------


def tool_env() -> dict[str, str]:
    """Offline: dummy credentials, a region, no telemetry; the venv's python3.13 first."""
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SAM_CLI_TELEMETRY": "0",
    }


def run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
@pytest.mark.parametrize("template", [TEMPLATE, LOG_ARCHIVE], ids=lambda path: path.name)
def test_cfn_lint_is_clean(template: Path) -> None:
    result = run([str(VENV_BIN / "cfn-lint"), str(template)], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sam_validate_lint_is_clean() -> None:
    result = run(
        [str(VENV_BIN / "sam"), "validate", "--lint", "--template-file", str(TEMPLATE)], 300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov in its own virtualenv, installed on first use at the pinned version."""
    binary = CHECKOV_VENV / "bin" / "checkov"
    if binary.exists():
        version = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=120
        )
        if version.stdout.strip() == CHECKOV_VERSION:
            return binary
    subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(CHECKOV_VENV)], check=True, timeout=120
    )
    install = subprocess.run(
        [str(CHECKOV_VENV / "bin" / "pip"), "install", "--quiet", f"checkov=={CHECKOV_VERSION}"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, f"installing checkov failed:\n{install.stderr[-3000:]}"
    return binary


@pytest.mark.slow
@pytest.mark.parametrize(
    ("template", "checks"), [(TEMPLATE, 40), (LOG_ARCHIVE, 5)], ids=["template", "log-archive"]
)
def test_checkov_finds_no_failed_check(checkov: Path, template: Path, checks: int) -> None:
    # --skip-download: no guideline fetch from the vendor's platform (no network here).
    result = run(
        [
            str(checkov),
            "-f",
            str(template),
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
        ],
        timeout=600,
    )
    report = json.loads(result.stdout)
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    assert report["summary"]["passed"] > checks, "checkov checked (almost) nothing"
    for check in report["results"]["skipped_checks"]:
        assert check.get("check_result", {}).get("suppress_comment"), check["check_id"]


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    return int.from_bytes(header[18:20], "little")


AARCH64 = 183  # ELF e_machine of arm64


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of the template, once for the tests of its artifacts."""
    work = tmp_path_factory.mktemp("sam")
    build = work / "build"
    result = run(
        [
            str(VENV_BIN / "sam"),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(build),
            "--cache-dir",
            str(work / "cache"),
        ],
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build


def _layer(build: Path, name: str) -> Path:
    layers = [path for path in build.iterdir() if path.name.startswith(name)]
    assert len(layers) == 1, layers
    return layers[0] / "python"


@pytest.mark.slow
def test_sam_build_produces_the_function_and_layer_artifacts(sam_build: Path) -> None:
    build = sam_build
    python = _layer(build, "LogferryLayer")
    assert (python / "logferry" / "__init__.py").is_file()
    assert (python / "logferry" / "formats" / "nlb.py").is_file()
    assert (python / "opensearchpy").is_dir()
    assert (python / "orjson").is_dir()
    # The native wheels match the functions' runtime and architecture (python3.13, arm64).
    runtime = load_template()["Globals"]["Function"]["Runtime"].removeprefix("python")
    suffix = f"cpython-{runtime.replace('.', '')}-aarch64-linux-gnu.so"
    for package in ("orjson", "isal"):
        modules = [path.name for path in (python / package).glob("*.so")]
        assert modules and all(name.endswith(suffix) for name in modules), (package, modules)
    package = ROOT / "layers" / "logferry" / "logferry"
    sources = [
        path.relative_to(package)
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".so"
    ]
    missing = [str(path) for path in sources if not (python / "logferry" / path).is_file()]
    assert missing == [], "package files (code, content) left out of the layer"
    assert not list(python.glob("logferry/**/*.so")), "this machine's compiled parsers shipped"
    # ParsersLayer: every compiled module of layers/native/compile.py, for the same runtime
    compiled = _layer(build, "ParsersLayer") / "logferry" / "formats"
    shared = native_compile_script().SHARED
    expected = {f"{name}.{suffix}" for name in (*_native_modules(), *shared, "native__mypyc")}
    # and the fast path's Rust writers (layers/native/lines.py), one abi3 library
    assert {path.name for path in compiled.iterdir()} == {*expected, "_lines.abi3.so"}
    for function in ("IngestFunction", "SetupFunction"):
        assert (build / function / "app.py").is_file()
    # the functions run on arm64: every native library must be built for it
    libraries = [*python.rglob("*.so"), *compiled.glob("*.so")]
    assert libraries
    wrong = [lib.name for lib in libraries if _elf_machine(lib) != AARCH64]
    assert wrong == []
    built = (build / "template.yaml").read_text()
    assert "LogferryLayer" in built and "ParsersLayer" in built


def _native_modules() -> tuple[str, ...]:
    modules: tuple[str, ...] = native_compile_script().MODULES
    return modules


def _qemu() -> str | None:
    return shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")


@pytest.mark.slow
@pytest.mark.skipif(_qemu() is None, reason="no qemu-aarch64 (Debian: qemu-user-static)")
def test_lambda_layers_run_the_compiled_parsers_on_arm64_as_their_sources(
    sam_build: Path, tmp_path: Path
) -> None:
    """The layers as Lambda lays them out (both under /opt/python), run by Debian's arm64
    CPython 3.13 under qemu: the compiled parsers load, and give what their sources give."""
    debian = load_script("native_debian", ROOT / "layers" / "native" / "debian.py")
    from tools.bench import generators as benchgen

    cache = Path(os.environ.get("LOGFERRY_CACHE", Path.home() / ".cache" / "logferry"))
    root = cache / "debian-arm64-python"
    python = debian.interpreter(root)
    opt = tmp_path / "opt" / "python"
    shutil.copytree(_layer(sam_build, "LogferryLayer"), opt)
    shutil.copytree(_layer(sam_build, "ParsersLayer"), opt, dirs_exist_ok=True)
    arguments = []
    for module in _native_modules():
        name = module.replace("_", "-")
        generated = benchgen.lines(name, 40_000) if name in benchgen.GENERATORS else ()
        for path in parser_corpus(tmp_path, name, generated):
            arguments += [name, str(path)]
    command = [str(_qemu()), "-L", str(root), str(python), str(ROOT / "tests" / "parse_files.py")]

    def parse(pure: bool) -> list[bytes]:
        env = {"PYTHONPATH": str(opt), "PYTHONDONTWRITEBYTECODE": "1"}
        if pure:
            env["LOGFERRY_PURE_PYTHON"] = "1"
        done = subprocess.run(
            [*command, *arguments], env=env, capture_output=True, timeout=900, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        lines: list[bytes] = done.stdout.splitlines()
        return lines

    compiled, pure = parse(pure=False), parse(pure=True)
    loaded, sources = json.loads(compiled[0]), json.loads(pure[0])
    assert loaded and all(path.endswith("-aarch64-linux-gnu.so") for path in loaded), loaded
    assert all(path.endswith(".py") for path in sources), sources
    assert len(compiled) > 1_000
    assert compiled[1:] == pure[1:]

    # The fast path's Rust writers, built for arm64, write the Python documents' bytes.
    files = []
    for name in sorted(FAST_WRITERS):
        path = tmp_path / f"{name}-generated.log"
        path.write_text("\n".join(benchgen.lines(name, 400_000)) + "\n")
        files += [name, str(path)]
    fast_command = [*command[:-1], str(ROOT / "tests" / "fast_files.py"), *files]
    env = {"PYTHONPATH": str(opt), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(fast_command, env=env, capture_output=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert str(report["library"]).endswith("_lines.abi3.so")
    assert _elf_machine(Path(report["library"])) == AARCH64
    for name, found in report["formats"].items():
        assert found["wrong"] == [], (name, found["wrong"])
        assert found["taken"] >= 0.99 * found["lines"] > 0, (name, found)


# -- the setup custom resource ------------------------------------------------------------


def load_setup_app() -> ModuleType:
    return load_script("logferry_setup_function", ROOT / "functions" / "setup" / "app.py")


@dataclass
class FakeContext:
    """The attributes Powertools reads from a Lambda context, and a time budget."""

    seconds_left: float = 120.0
    function_name: str = "logferry-setup"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:logferry-setup"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds_left * 1000)


class _Recorder(BaseHTTPRequestHandler):
    answers: list[dict[str, Any]]

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        self.answers.append(
            {
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for CloudFormation's pre-signed S3 URL on 127.0.0.1, recording each PUT."""
    answers: list[dict[str, Any]] = []
    handler = type("Recorder", (_Recorder,), {"answers": answers})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cfn-response?X-Amz-Signature=abc", answers
    server.shutdown()
    server.server_close()


def cfn_event(
    request_type: str, url: str, settings: dict[str, str], **extra: Any
) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/logferry/1",
        "RequestId": f"request-{uuid.uuid4()}",
        "LogicalResourceId": "Setup",
        "ResourceType": "Custom::LogferrySetup",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:setup",
            "Settings": settings,
            "MasterUserSecretArn": "",
            "WriterRoleArn": "arn:aws:iam::123456789012:role/ingest",
            "SetupRoleArn": "arn:aws:iam::123456789012:role/setup",
        },
    }
    event.update(extra)
    return event


@pytest.fixture
def setup_prefix(os_client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private index prefix; the template the handler creates for it is removed after."""
    from logferry import provisioning

    for name in ("LOGFERRY_SIGV4", "LOGFERRY_DASHBOARDS_URL", "OPENSEARCH_URL"):
        monkeypatch.delenv(name, raising=False)
    prefix = f"cfn{uuid.uuid4().hex[:10]}"
    yield prefix
    os_client.indices.delete_index_template(name=provisioning.template_name(prefix), ignore=[404])


@pytest.mark.integration
def test_setup_create_applies_the_template_and_answers_success(
    opensearch_url: str, os_client: Any, setup_prefix: str, response_url: tuple[str, list[Any]]
) -> None:
    from logferry import provisioning

    url, answers = response_url
    app = load_setup_app()
    settings = {"OPENSEARCH_URL": opensearch_url, "LOGFERRY_INDEX_PREFIX": setup_prefix}
    event = cfn_event("Create", url, settings)
    app.lambda_handler(event, FakeContext())

    [answer] = answers
    body = answer["body"]
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert answer["path"] == "/cfn-response?X-Amz-Signature=abc"
    assert not answer["content_type"], "the pre-signed URL was signed without a content type"
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        event["StackId"],
        event["RequestId"],
        "Setup",
    )
    assert body["PhysicalResourceId"] == f"logferry-setup-{setup_prefix}"
    assert f"index template {provisioning.template_name(setup_prefix)}" in body["Data"]["Steps"]
    stored = os_client.indices.get_index_template(name=provisioning.template_name(setup_prefix))
    [template] = stored["index_templates"]
    assert template["index_template"]["index_patterns"] == [f"{setup_prefix}-*"]


@pytest.mark.integration
def test_setup_update_reapplies_and_delete_removes_nothing(
    opensearch_url: str, os_client: Any, setup_prefix: str, response_url: tuple[str, list[Any]]
) -> None:
    from logferry import provisioning

    url, answers = response_url
    app = load_setup_app()
    settings = {"OPENSEARCH_URL": opensearch_url, "LOGFERRY_INDEX_PREFIX": setup_prefix}
    physical = f"logferry-setup-{setup_prefix}"
    app.lambda_handler(cfn_event("Create", url, settings), FakeContext())
    os_client.indices.delete_index_template(name=provisioning.template_name(setup_prefix))
    update = cfn_event("Update", url, {**settings, "LOGFERRY_RETENTION_DAYS": "30"})
    update["PhysicalResourceId"] = physical
    app.lambda_handler(update, FakeContext())
    assert answers[1]["body"]["Status"] == "SUCCESS"
    assert answers[1]["body"]["PhysicalResourceId"] == physical
    assert os_client.indices.exists_index_template(name=provisioning.template_name(setup_prefix))

    delete = cfn_event("Delete", url, settings, PhysicalResourceId=physical)
    app.lambda_handler(delete, FakeContext())
    assert answers[2]["body"]["Status"] == "SUCCESS"
    assert answers[2]["body"]["PhysicalResourceId"] == physical
    assert os_client.indices.exists_index_template(name=provisioning.template_name(setup_prefix))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.integration
def test_setup_answers_failed_with_the_reason_when_opensearch_is_unreachable(
    setup_prefix: str, response_url: tuple[str, list[Any]]
) -> None:
    url, answers = response_url
    app = load_setup_app()
    settings = {
        "OPENSEARCH_URL": f"http://127.0.0.1:{_closed_port()}",
        "LOGFERRY_INDEX_PREFIX": setup_prefix,
    }
    started = time.monotonic()
    # 20 s left: too little to wait and try again, so it answers at once
    app.lambda_handler(cfn_event("Create", url, settings), FakeContext(seconds_left=20))
    assert time.monotonic() - started < 15
    [answer] = answers
    assert answer["body"]["Status"] == "FAILED"
    assert "ConnectionError" in answer["body"]["Reason"]
    assert answer["body"]["PhysicalResourceId"]


@pytest.mark.integration
def test_setup_retries_while_the_domain_does_not_answer_then_fails(
    setup_prefix: str, response_url: tuple[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, answers = response_url
    app = load_setup_app()
    monkeypatch.setattr(app, "RETRY_DELAYS", (0.1, 0.1))
    monkeypatch.setattr(app, "REQUEST_TIMEOUT", 1.0)
    monkeypatch.setattr(app, "ANSWER_RESERVE", 1.0)
    calls: list[str] = []
    real_run = app.run_setup

    def counting(*args: Any) -> list[str]:
        calls.append("run")
        return list(real_run(*args))

    monkeypatch.setattr(app, "run_setup", counting)
    settings = {
        "OPENSEARCH_URL": f"http://127.0.0.1:{_closed_port()}",
        "LOGFERRY_INDEX_PREFIX": setup_prefix,
    }
    app.lambda_handler(cfn_event("Create", url, settings), FakeContext(seconds_left=60))
    assert len(calls) == 3
    assert answers[0]["body"]["Status"] == "FAILED"


@pytest.mark.integration
def test_setup_answers_failed_on_an_unknown_request_type(
    response_url: tuple[str, list[Any]],
) -> None:
    url, answers = response_url
    load_setup_app().lambda_handler(cfn_event("Rename", url, {}), FakeContext())
    assert answers[0]["body"]["Status"] == "FAILED"
    assert "Rename" in answers[0]["body"]["Reason"]


@pytest.mark.integration
def test_setup_signs_in_with_the_master_user_secret_before_applying(
    aws_env: None,
    opensearch_url: str,
    os_client: Any,
    setup_prefix: str,
    response_url: tuple[str, list[Any]],
) -> None:
    import boto3

    from logferry import provisioning

    url, answers = response_url
    secret = boto3.client("secretsmanager").create_secret(
        Name="logferry-master", SecretString=json.dumps({"username": "admin", "password": "pw"})
    )
    event = cfn_event(
        "Create", url, {"OPENSEARCH_URL": opensearch_url, "LOGFERRY_INDEX_PREFIX": setup_prefix}
    )
    event["ResourceProperties"]["MasterUserSecretArn"] = secret["ARN"]
    load_setup_app().lambda_handler(event, FakeContext())
    body = answers[0]["body"]
    assert body["Status"] == "SUCCESS", body["Reason"]
    # the local cluster has no security plugin: nothing to map, the rest is applied
    assert "security plugin not installed" in body["Data"]["Steps"]
    assert os_client.indices.exists_index_template(name=provisioning.template_name(setup_prefix))
    assert "pw" not in json.dumps(body)


@pytest.mark.integration
def test_setup_fails_when_the_master_user_secret_cannot_be_read(
    aws_env: None, opensearch_url: str, setup_prefix: str, response_url: tuple[str, list[Any]]
) -> None:
    url, answers = response_url
    event = cfn_event(
        "Create", url, {"OPENSEARCH_URL": opensearch_url, "LOGFERRY_INDEX_PREFIX": setup_prefix}
    )
    event["ResourceProperties"]["MasterUserSecretArn"] = (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    )
    load_setup_app().lambda_handler(event, FakeContext())
    assert answers[0]["body"]["Status"] == "FAILED"
    assert "ResourceNotFoundException" in answers[0]["body"]["Reason"]


def test_writer_role_may_create_and_write_the_prefix_indices_and_merge_mail_only() -> None:
    # The fewest permissions the writer needs, each shown needed against the security plugin
    # (tests/security/test_writer.py): writing, and for mail merging a multi-get and a delete.
    role = load_setup_app().writer_role("logs")
    write, merge = role["index_permissions"]
    assert write["index_patterns"] == ["logs-*"]
    assert set(write["allowed_actions"]) == {
        "indices:admin/create",
        "indices:data/write/bulk*",
        "indices:data/write/index",
    }
    assert merge["index_patterns"] == ["logs-mail-*"]
    assert set(merge["allowed_actions"]) == {"indices:data/read/mget*", "indices:data/write/delete"}
    assert set(role["cluster_permissions"]) == {"indices:data/write/bulk", "indices:data/read/mget"}


def test_deploy_guide_lists_the_roles_the_setup_function_creates() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    app = load_setup_app()
    role = app.writer_role("logs")
    actions = [a for p in role["index_permissions"] for a in p["allowed_actions"]]
    for action in [*role["cluster_permissions"], *actions]:
        assert f"`{action}`" in guide, f"{action} missing from docs/deploy.md"
    for name in (app.WRITER_ROLE, app.SETUP_ROLE):
        assert f"`{name}`" in guide
    # the guide promises role ARNs known before the first deployment
    stack = Stack(SOURCES)
    assert stack.resource("IngestRole")["Properties"]["RoleName"] == "logferry-ingest-us-east-1"
    assert stack.resource("SetupRole")["Properties"]["RoleName"] == "logferry-setup-us-east-1"
    assert "<stack>-ingest-<region>" in guide and "<stack>-setup-<region>" in guide


def test_deploy_guide_names_the_access_and_acceptance_parameters() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    parameters = load_template()["Parameters"]
    for name in (
        "AnalystPrincipalArn",
        "AnalystCidr",
        "AcceptDaysBack",
        "AcceptDaysAhead",
        "MaxIndicesPerObject",
        "MaxRejectionsKept",
        "MaxObjectsPerMessage",
        "WarmAfterDays",
        "ColdAfterDays",
    ):
        assert name in parameters
        assert f"`{name}`" in guide, f"{name} missing from docs/deploy.md"


def test_response_body_fits_cloudformation_4_kib_limit() -> None:
    app = load_setup_app()
    event = cfn_event("Create", "http://127.0.0.1/", {})
    body = app.response_body(event, "SUCCESS", "r" * 5000, "id", {"Steps": "s" * 10000})
    assert len(body) <= 4096
    assert json.loads(body)["Status"] == "SUCCESS"


def test_functions_ship_no_dependencies_of_their_own() -> None:
    # The layer carries every dependency; a package listed here would be bundled twice.
    for function in ("ingest", "setup"):
        lines = (ROOT / "functions" / function / "requirements.txt").read_text().splitlines()
        assert [line for line in lines if line.strip() and not line.startswith("#")] == []


ENRICHED = {
    **SOURCES,
    "GeoIPCityDatabase": "s3://geo-databases/maxmind/GeoLite2-City.mmdb",
    "GeoIPAsnDatabase": "/opt/geoip/GeoLite2-ASN.mmdb",
    "Enrich": "geoip",
    "Drop": "alb:url.path=/health;vpcflow:aws.vpcflow.action=ACCEPT,destination.port=443",
    "ExcludeFields": "alb:aws.elb.trace_id,trace.id",
    "Sample": "vpcflow:aws.vpcflow.action=ACCEPT:0.1",
}


def test_enrichment_and_volume_parameters_reach_the_ingest_function_and_its_role() -> None:
    from logferry.config import Settings

    env = ingest_env(ENRICHED)
    settings = Settings.from_env(env)
    assert settings.geoip_city_db == "s3://geo-databases/maxmind/GeoLite2-City.mmdb"
    assert settings.geoip_asn_db == "/opt/geoip/GeoLite2-ASN.mmdb"
    assert settings.enrich == ("geoip",)
    assert [rule.text for rule in settings.drop] == ENRICHED["Drop"].split(";")
    assert settings.exclude_fields == (("alb", ("aws.elb.trace_id", "trace.id")),)
    assert [(rule.source, rule.fraction) for rule in settings.sample] == [("vpcflow", 0.1)]
    # The role may read the database in S3 (not the one in the function's file system).
    readable = Stack(ENRICHED).resources_allowed("IngestRole", "s3:GetObject")
    assert "arn:aws:s3:::geo-databases/maxmind/GeoLite2-City.mmdb" in readable
    both = Stack({**ENRICHED, "GeoIPAsnDatabase": "s3://geo-databases/asn.mmdb"})
    assert {
        "arn:aws:s3:::geo-databases/maxmind/GeoLite2-City.mmdb",
        "arn:aws:s3:::geo-databases/asn.mmdb",
    } <= both.resources_allowed("IngestRole", "s3:GetObject")
    # By default: user agents on, no database, no rules, and nothing more to read.
    plain = Settings.from_env(ingest_env(SOURCES))
    assert (plain.geoip_city_db, plain.geoip_asn_db) == ("", "")
    assert plain.enrich == ("geoip", "user_agent")
    assert (plain.drop, plain.sample, plain.exclude_fields) == ((), (), ())
    assert not any(
        "geo-databases" in arn
        for arn in Stack(SOURCES).resources_allowed("IngestRole", "s3:GetObject")
    )
    assert Settings.from_env(ingest_env({**SOURCES, "Enrich": "none"})).enrich == ()


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        (
            ["", "s3://geo-bucket/city.mmdb", "s3://a.b-c/x/y.mmdb", "/opt/geoip/city.mmdb"],
            ["geo-bucket/city.mmdb", "s3://geo-bucket", "s3://geo-bucket/", "https://x/y.mmdb"],
        )
    ],
)
def test_geoip_database_parameters_accept_an_s3_location_or_a_path(
    good: list[str], bad: list[str]
) -> None:
    for parameter in ("GeoIPCityDatabase", "GeoIPAsnDatabase"):
        pattern = load_template()["Parameters"][parameter]["AllowedPattern"]
        assert [value for value in good if not re.fullmatch(pattern, value)] == []
        assert [value for value in bad if re.fullmatch(pattern, value)] == []


def test_the_layer_carries_the_enrichment_libraries_built_for_arm64(sam_build: Path) -> None:
    # sam build fetched them without containers: each has a manylinux aarch64 wheel.
    python = _layer(sam_build, "LogferryLayer")
    for package in ("maxminddb_rust", "ua_parser_rs"):
        modules = list((python / package).glob("*.so"))
        assert modules, package
        assert [_elf_machine(path) for path in modules] == [AARCH64] * len(modules), package
    assert (python / "ua_parser" / "regex.py").is_file()
    assert (python / "ua_parser_builtins").is_dir()
