"""`logferry parse` applies LOGFERRY_DROP, LOGFERRY_SAMPLE and LOGFERRY_EXCLUDE_FIELDS as the
pipeline does; `--show-dropped` prints what they dropped on stderr. A bad rule is a usage error
naming the rule."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT
from tests.enrich_samples import cloudtrail_records

LOGFERRY = str(ROOT / ".venv" / "bin" / "logferry")

ALB = (
    "https 2026-11-20T12:00:0{n}.000000Z app/web/50dc6c495c0c9188 203.0.113.{n}:2817"
    " 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366"
    ' "GET https://www.example.com:443{path} HTTP/1.1" "{agent}"'
    " ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2"
    " arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067"
    ' "Root=1-58337262-36d228ad5d99923122bbe354" "www.example.com"'
    ' "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"'
    ' 0 2026-11-20T12:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"'
    ' TID_1234 "-" "-" "-" 10.0.0.5 "-" "-"'
)


def run(path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOGFERRY, "parse", "--format", "alb", *args, str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LOGFERRY_ACCEPT_DAYS_BACK": "3650", **env},
    )


def test_dropped_documents_are_not_printed_and_show_on_stderr_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "alb.log"
    path.write_text(
        "\n".join(
            [
                ALB.format(n=1, path="/health", agent="ELB-HealthChecker/2.0"),
                ALB.format(n=2, path="/home", agent="curl/8.5.0"),
                ALB.format(n=3, path="/health", agent="ELB-HealthChecker/2.0"),
            ]
        )
        + "\n"
    )
    env = {"LOGFERRY_DROP": "alb:url.path=/health", "LOGFERRY_EXCLUDE_FIELDS": "alb:trace.id"}
    quiet = run(path, **env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    [hit] = [json.loads(line) for line in quiet.stdout.splitlines()]
    assert hit["_source"]["url"]["path"] == "/home"
    assert "trace" not in hit["_source"] or hit["_source"]["trace"] == {}
    assert hit["_source"]["user_agent"]["name"] == "curl"

    shown = run(path, "--show-dropped", **env)
    assert shown.returncode == 0 and shown.stdout == quiet.stdout
    lines = shown.stderr.splitlines()
    assert [line.split(" dropped ")[0] for line in lines] == [f"{path}:1:", f"{path}:3:"]
    dropped = json.loads(lines[0].split(" dropped ", 1)[1])
    assert dropped["_source"]["url"]["path"] == "/health"
    assert dropped["_index"] == "logs-alb-2026.11.20"
    # Dropped before enrichment (the rule tests the record), shown enriched all the same.
    assert dropped["_source"]["cloud"]["provider"] == "aws"

    # A rule on what enrichment adds is decided after it.
    enriched = run(path, "--show-dropped", LOGFERRY_DROP="alb:user_agent.name=curl")
    assert [
        json.loads(line)["_source"]["url"]["path"] for line in enriched.stdout.splitlines()
    ] == [
        "/health",
        "/health",
    ]
    assert enriched.stderr.startswith(f"{path}:2: dropped ")


def test_a_bad_rule_stops_parse_with_the_rule_named(tmp_path: Path) -> None:
    path = tmp_path / "alb.log"
    path.write_text(ALB.format(n=1, path="/", agent="curl/8.5.0") + "\n")
    result = run(path, LOGFERRY_SAMPLE="alb:url.path=/x:2")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("logferry parse: LOGFERRY_SAMPLE: rule 'alb:url.path=/x:2'")
    unknown = run(path, LOGFERRY_DROP="elb:url.path=/x")
    assert unknown.returncode == 2
    assert "LOGFERRY_DROP: rule 'elb:url.path=/x': unknown source 'elb'" in unknown.stderr


def test_formats_read_whole_show_their_dropped_documents_too(tmp_path: Path) -> None:
    records = cloudtrail_records(4)
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}))
    result = subprocess.run(
        [LOGFERRY, "parse", "--format", "cloudtrail", "--show-dropped", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "LOGFERRY_ACCEPT_DAYS_BACK": "3650",
            "LOGFERRY_DROP": "cloudtrail:event.action=Describe*",
        },
    )
    assert result.returncode == 0, result.stderr
    kept = [json.loads(line)["_source"]["event"]["action"] for line in result.stdout.splitlines()]
    assert kept == ["RunInstances", "RunInstances"]
    dropped = [json.loads(line.split(" dropped ", 1)[1]) for line in result.stderr.splitlines()]
    assert [hit["_source"]["event"]["action"] for hit in dropped] == ["DescribeInstances"] * 2
    assert all(hit["_index"] == "logs-cloudtrail-2026.11.20" for hit in dropped)
