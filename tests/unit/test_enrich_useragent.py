"""User agents with ua-parser (its builtin rules, Rust resolver): ECS user_agent.* fields,
unknowns left out, a bounded cache, and only the formats that carry agents."""

from __future__ import annotations

from typing import Any

from logferry.config import Settings
from logferry.enrich import Enrichment
from logferry.enrich.useragent import UserAgents
from logferry.formats import get_format

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.6367.91 Safari/537.36"
)


def test_browser_os_and_device_become_ecs_fields() -> None:
    agents = UserAgents()
    doc: dict[str, Any] = {"user_agent": {"original": IPHONE}}
    agents.fill()(doc)
    assert doc["user_agent"] == {
        "original": IPHONE,
        "name": "Mobile Safari",
        "version": "17.1",
        "os": {"name": "iOS", "version": "17.1"},
        "device": {"name": "iPhone"},
    }
    desktop: dict[str, Any] = {"user_agent": {"original": WINDOWS_CHROME}}
    agents.fill()(desktop)
    assert desktop["user_agent"]["name"] == "Chrome"
    assert desktop["user_agent"]["version"] == "124.0.6367"
    assert desktop["user_agent"]["os"] == {"name": "Windows", "version": "10"}


def test_unknown_agents_add_nothing_and_documents_without_agents_are_untouched() -> None:
    agents = UserAgents()
    doc: dict[str, Any] = {"user_agent": {"original": "zz-internal-probe"}}
    agents.fill()(doc)
    assert doc == {"user_agent": {"original": "zz-internal-probe"}}
    bare: dict[str, Any] = {"url": {"path": "/"}}
    agents.fill()(bare)
    assert bare == {"url": {"path": "/"}}


def test_curl_is_named() -> None:
    doc: dict[str, Any] = {"user_agent": {"original": "curl/8.5.0"}}
    UserAgents().fill()(doc)
    assert doc["user_agent"]["name"] == "curl" and doc["user_agent"]["version"] == "8.5.0"


def test_the_cache_is_bounded() -> None:
    agents = UserAgents(cache_size=50)
    fill = agents.fill()
    for n in range(300):
        fill({"user_agent": {"original": f"probe/{n}.0"}})
    info = agents.lookup.cache_info()  # type: ignore[attr-defined]
    assert info.currsize == 50


def test_long_agents_are_parsed_as_short_ones_but_never_cached() -> None:
    agents = UserAgents()
    fill = agents.fill()
    long = "curl/8.5.0 " + "x" * 3000
    doc: dict[str, Any] = {"user_agent": {"original": long}}
    fill(doc)
    assert doc["user_agent"] == {"original": long, **(agents.parse(long) or {})}
    assert agents.lookup.cache_info().currsize == 0  # type: ignore[attr-defined]


def test_on_by_default_for_formats_with_agents_and_off_with_enrich_none() -> None:
    alb, vpcflow = get_format("alb"), get_format("vpcflow")
    doc: dict[str, Any] = {"user_agent": {"original": "curl/8.5.0"}}
    fill = Enrichment.from_settings(Settings.from_env({})).for_object("key", alb)
    assert fill is not None
    fill(doc)
    assert doc["user_agent"]["name"] == "curl"
    off = Enrichment.from_settings(Settings.from_env({"LOGFERRY_ENRICH": "none"}))
    plain: dict[str, Any] = {"user_agent": {"original": "curl/8.5.0"}}
    fill = off.for_object("key", alb)
    assert fill is not None  # the cloud facts
    fill(plain)
    assert "name" not in plain["user_agent"]
    assert off.user_agents is None
    lazy = Enrichment.from_settings(Settings.from_env({}))
    lazy.for_object("key", vpcflow)
    assert lazy._user_agents is True  # rules not loaded for a format without agents
