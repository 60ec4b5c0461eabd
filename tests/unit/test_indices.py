"""Index names: from the entry's own day (by the day, the ISO week or the month, as the
source's layout says), within the accepted window, a bounded number per object, and only names
OpenSearch accepts."""

from __future__ import annotations

from datetime import date

import pytest

from logferry.config import ACCEPT_MARGIN_DAYS, Settings
from logferry.output.indices import IndexRouter, Window, index_name, index_name_problem
from logferry.output.layout import IndexLayout

TODAY = date(2026, 12, 3)


def router(max_indices: int = 200, back: int = 97, ahead: int = 1) -> IndexRouter:
    return IndexRouter("logs", "vpcflow", Window(TODAY, back, ahead), max_indices)


def test_the_index_is_the_entry_s_own_utc_day() -> None:
    assert router().route("2026-12-02T23:59:59.5Z") == ("logs-vpcflow-2026.12.02", "")
    assert index_name("logs", "mail", "2026-11-20") == "logs-mail-2026.11.20"


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        ("2026-08-28T00:00:00Z", True),  # 97 days back: the first day of the window
        ("2026-08-27T23:59:59Z", False),
        ("2026-12-04T23:59:59Z", True),  # a day ahead
        ("2026-12-05T00:00:00Z", False),
        ("0001-01-01T00:00:00Z", False),
        ("9999-12-31T23:59:59Z", False),
        ("1970-01-01T00:00:00Z", False),
    ],
)
def test_only_days_in_the_accepted_window_are_indexed(timestamp: str, accepted: bool) -> None:
    index, why = router().route(timestamp)
    assert (index is not None) is accepted
    assert accepted or why.startswith("event time outside the accepted window")


@pytest.mark.parametrize(
    "timestamp",
    [
        "2023-W15-1T15:24:00Z",  # ISO week date
        "2026-336T10:00:00Z",  # ordinal date
        "2026-12-02 10:00:00Z",
        "2026-12-02T10:00:00+02:00",
        "2026-02-30T10:00:00Z",
        "\uff12\uff10\uff12\uff16-12-02T10:00:00Z",  # full-width digits
        None,
        12,
        "2026",
    ],
)
def test_a_time_that_is_not_canonical_utc_is_refused_not_turned_into_an_index(
    timestamp: object,
) -> None:
    index, why = router(back=100_000, ahead=100_000).route(timestamp)
    assert index is None and why


def test_past_the_cap_new_days_are_refused_and_known_days_still_accepted() -> None:
    route = router(max_indices=2).route
    assert route("2026-12-01T00:00:00Z")[0] and route("2026-12-02T00:00:00Z")[0]
    index, why = route("2026-12-03T00:00:00Z")
    assert index is None and "LOGFERRY_MAX_INDICES_PER_OBJECT" in why
    assert route("2026-12-01T08:00:00Z") == ("logs-vpcflow-2026.12.01", "")


@pytest.mark.parametrize(
    ("name", "fine"),
    [
        ("logs-cloudtrail-2023.04.10", True),
        ("logs-cloudtrail-2023.W1.-1", False),
        ("Logs-nlb-2026.11.20", False),
        ("-logs-nlb-2026.11.20", False),
        ("logs nlb", False),
        ("logs/nlb", False),
        ("l" * 256, False),
    ],
)
def test_index_names_are_checked_as_opensearch_checks_them(name: str, fine: bool) -> None:
    assert (index_name_problem(name) is None) is fine


def test_the_window_defaults_to_the_retention_period_plus_a_margin() -> None:
    assert Settings().days_back == 90 + ACCEPT_MARGIN_DAYS
    assert Settings.from_env({"LOGFERRY_RETENTION_DAYS": "30"}).days_back == 30 + ACCEPT_MARGIN_DAYS
    assert Settings.from_env({"LOGFERRY_ACCEPT_DAYS_BACK": "400"}).days_back == 400


@pytest.mark.parametrize(
    "env",
    [
        {"LOGFERRY_ACCEPT_DAYS_BACK": "0"},
        {"LOGFERRY_MAX_INDICES_PER_OBJECT": "0"},
        {"LOGFERRY_MAX_OBJECTS_PER_MESSAGE": "-1"},
        {"LOGFERRY_ACCEPT_DAYS_AHEAD": "soon"},
    ],
)
def test_a_bad_bound_fails_at_start_naming_its_setting(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=next(iter(env))):
        Settings.from_env(env)


# -- periods (logferry.output.layout) ---------------------------------------------------------


def period_router(spec: str, max_indices: int = 200, source: str = "vpcflow") -> IndexRouter:
    layout = IndexLayout.parse(spec)
    window = Window(TODAY, 100_000, 100_000)
    return IndexRouter("logs", source, window, max_indices, layout=layout)


@pytest.mark.parametrize(
    ("timestamp", "index"),
    [
        ("2026-12-02T23:59:59.5Z", "logs-vpcflow-2026.w49"),  # a Wednesday
        ("2026-11-30T00:00:00Z", "logs-vpcflow-2026.w49"),  # its Monday
        ("2026-12-06T23:59:59Z", "logs-vpcflow-2026.w49"),  # its Sunday
        ("2026-12-07T00:00:00Z", "logs-vpcflow-2026.w50"),
        ("2026-12-31T12:00:00Z", "logs-vpcflow-2026.w53"),  # ISO year 2026 has 53 weeks
        ("2027-01-03T12:00:00Z", "logs-vpcflow-2026.w53"),  # ... the last ends on Jan 3
        ("2027-01-04T00:00:00Z", "logs-vpcflow-2027.w01"),
        ("2025-12-29T00:00:00Z", "logs-vpcflow-2026.w01"),  # ... and 2026's first began in 2025
    ],
)
def test_a_weekly_source_is_named_by_the_iso_week_of_the_entry(timestamp: str, index: str) -> None:
    assert period_router("vpcflow=week:2").route(timestamp) == (index, "")


def test_a_monthly_source_is_named_by_the_month_and_others_stay_daily() -> None:
    assert period_router("vpcflow=month:1").route("2026-12-31T23:59:59Z")[0] == (
        "logs-vpcflow-2026.12"
    )
    assert period_router("vpcflow=month:1").route("2027-01-01T00:00:00Z")[0] == (
        "logs-vpcflow-2027.01"
    )
    # the layout names another source: this one keeps its daily indices
    assert period_router("alb=month:1").route("2026-12-31T23:59:59Z")[0] == (
        "logs-vpcflow-2026.12.31"
    )
    # a day period with more primaries: the same names as without a layout
    assert period_router("vpcflow=day:6").route("2026-12-31T23:59:59Z")[0] == (
        "logs-vpcflow-2026.12.31"
    )


def test_the_days_of_one_period_share_its_name_in_the_day_lookup() -> None:
    routed = period_router("vpcflow=week:2")
    for day in range(1, 8):
        routed.route(f"2026-12-0{day}T10:00:00Z")
    assert routed.days == {
        "2026-12-01": "logs-vpcflow-2026.w49",
        "2026-12-02": "logs-vpcflow-2026.w49",
        "2026-12-03": "logs-vpcflow-2026.w49",
        "2026-12-04": "logs-vpcflow-2026.w49",
        "2026-12-05": "logs-vpcflow-2026.w49",
        "2026-12-06": "logs-vpcflow-2026.w49",
        "2026-12-07": "logs-vpcflow-2026.w50",
    }


def test_the_cap_counts_indices_not_days() -> None:
    route = period_router("vpcflow=month:1", max_indices=2).route
    for day in range(1, 31):  # thirty days of November: one index
        assert route(f"2026-11-{day:02d}T00:00:00Z")[0] == "logs-vpcflow-2026.11"
    assert route("2026-12-01T00:00:00Z")[0] == "logs-vpcflow-2026.12"
    index, why = route("2027-01-01T00:00:00Z")
    assert index is None and "LOGFERRY_MAX_INDICES_PER_OBJECT" in why
    assert route("2026-12-31T08:00:00Z") == ("logs-vpcflow-2026.12", "")  # a known index


def test_the_window_still_refuses_by_the_day_within_a_period() -> None:
    layout = IndexLayout.parse("vpcflow=month:1")
    route = IndexRouter("logs", "vpcflow", Window(TODAY, 97, 1), 200, layout=layout).route
    assert route("2026-12-04T23:59:59Z")[0] == "logs-vpcflow-2026.12"
    index, why = route("2026-12-05T00:00:00Z")  # same month, past the window
    assert index is None and why.startswith("event time outside the accepted window")
