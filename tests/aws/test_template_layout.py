"""The template's IndexLayout and Replicas parameters: what `logferry plan` prints is accepted,
both functions get them, and a change runs setup again (new templates)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from logferry.config import Settings
from logferry.output.layout import IndexLayout, Period, SourceLayout, source_kinds
from logferry.provisioning.planner import plan
from tests.aws.test_template import SOURCES, Stack, ingest_env, load_template


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def setup_settings(params: dict[str, str]) -> dict[str, str]:
    [resource] = Stack({**SOURCES, **params}).resources("Custom::LogferrySetup").values()
    found: dict[str, str] = resource["Properties"]["Settings"]
    return found


def function_env(params: dict[str, str], function: str) -> dict[str, Any]:
    env: dict[str, Any] = Stack({**SOURCES, **params}).resource(function)["Properties"][
        "Environment"
    ]["Variables"]
    return env


def test_the_parameter_takes_what_the_planner_prints_and_nothing_it_would_refuse() -> None:
    pattern = load_template()["Parameters"]["IndexLayout"]["AllowedPattern"]
    volumes = dict(zip(source_kinds(), (0.2, 3, 40, 80, 200, 900, 5000) * 2, strict=False))
    assert re.fullmatch(pattern, plan(volumes).index_layout)
    assert re.fullmatch(pattern, "")
    for bad in ("alb=hour:1", "alb=day:0", "alb", "alb=day:1,", "ALB=day:1", "alb=day:1 "):
        assert not re.fullmatch(pattern, bad), bad


def test_both_functions_and_setup_get_the_layout_and_the_replicas() -> None:
    params = {"IndexLayout": "alb=day:4,vpcflow=week:6,nlb=month:1", "Replicas": "2"}
    for env in (
        ingest_env({**SOURCES, **params}),
        function_env(params, "SetupFunction"),
        setup_settings(params),
    ):
        settings = Settings.from_env({key: str(value) for key, value in env.items()})
        assert settings.index_layout.of("vpcflow") == SourceLayout(Period.WEEK, 6)
        assert settings.replicas == 2
    unset = Settings.from_env({k: str(v) for k, v in setup_settings({}).items()})
    assert (unset.index_layout, unset.replicas) == (IndexLayout(), 1)
    # a change of either changes the setup resource's properties: setup runs again
    assert setup_settings({"IndexLayout": "nlb=month:1"}) != setup_settings({})
    assert setup_settings({"Replicas": "0"}) != setup_settings({})
