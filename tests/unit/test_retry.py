"""Retry classification and backoff: one answer -> one action, for the bulk sink and the mail
merger alike; pauses with full jitter that never outrun the time budget."""

from __future__ import annotations

import pytest

from logferry.output.retry import Action, Backoff, classify, reason_of, status_of


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (200, Action.DONE),
        (201, Action.DONE),
        (0, Action.DONE),  # an item without a status in a response without errors
        (429, Action.OVERLOAD_RETRY),
        (503, Action.OVERLOAD_RETRY),
        ("TIMEOUT", Action.OVERLOAD_RETRY),
        (500, Action.RETRY),
        (502, Action.RETRY),
        (504, Action.RETRY),
        ("N/A", Action.RETRY),  # connection refused or reset: no answer
        (None, Action.RETRY),
        (409, Action.CONFLICT),
        (400, Action.REFUSED),
        (404, Action.REFUSED),
        (413, Action.REFUSED),
        (501, Action.REFUSED),
    ],
)
def test_each_status_has_one_action(status: int | str | None, action: Action) -> None:
    assert classify(status) is action


def test_only_retries_are_retryable_a_conflict_is_not_the_same_request_again() -> None:
    assert {a for a in Action if a.retryable} == {Action.RETRY, Action.OVERLOAD_RETRY}


def test_status_of_a_request_that_raised() -> None:
    class Failed(Exception):
        def __init__(self, status_code: object) -> None:
            self.status_code = status_code

    assert status_of(Failed(503)) == 503
    assert status_of(Failed("TIMEOUT")) == "TIMEOUT"
    assert status_of(Failed(None)) is None
    assert status_of(ValueError("no status")) is None


def test_reason_names_type_reason_and_cause() -> None:
    error = {
        "type": "mapper_parsing_exception",
        "reason": "failed to parse field [source.ip]",
        "caused_by": {"type": "illegal_argument_exception", "reason": "not an IP"},
    }
    assert reason_of(error) == (
        "mapper_parsing_exception: failed to parse field [source.ip]"
        " (caused by illegal_argument_exception: not an IP)"
    )
    assert reason_of("plain") == "plain"


def test_delay_is_full_jitter_up_to_the_cap() -> None:
    highest = Backoff(base=0.5, cap=3.0, draw=lambda low, high: high)
    assert [highest.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]
    lowest = Backoff(draw=lambda low, high: low)
    assert lowest.delay(5) == 0.0
    assert all(0 <= Backoff(base=1, cap=2).delay(3) <= 2 for _ in range(100))


def test_a_pause_is_afforded_only_with_a_second_left_for_the_request() -> None:
    backoff = Backoff(remaining=lambda: 3.0)
    assert backoff.affords(2.0) and not backoff.affords(2.5)
    assert Backoff().affords(1e9)  # no budget


def test_requests_never_wait_past_the_budget() -> None:
    assert Backoff().request_timeout() is None
    assert Backoff(remaining=lambda: 12.5).request_timeout() == 11.5
    assert Backoff(remaining=lambda: 600).request_timeout() == 60.0
    assert Backoff(remaining=lambda: 0.2).request_timeout() == 1.0
