"""What to do about an answer from OpenSearch, and how long to wait before trying again: the
one classification and the one backoff that every writer (the bulk sink, the mail merger) uses.

`classify` maps a status, of one item of a _bulk response or of a whole request that failed,
to an `Action`:
- 2xx: DONE.
- 429 and 503 ("too much at once"), and a request that timed out: OVERLOAD_RETRY, try again
  later and send less at once.
- 500, 502, 504, and a request that got no answer at all (connection refused or reset, status
  "N/A" or none): RETRY, try again later.
- 409 (a conditional write lost to another writer): CONFLICT. A writer that writes
  conditionally (the mail merger) reads again and merges; for one that does not (the bulk
  sink) it is as permanent as any other refusal.
- anything else (mapping conflict, oversize, invalid index name, 413 on a request): REFUSED,
  for good; the document goes to the dead letters with `reason_of` its error.

`Backoff` is exponential backoff with full jitter, within the caller's time budget: the pause
before attempt n is uniform in [0, min(cap, base * 2**n)], a pause is taken only if a second
is left after it for the request, and no request waits longer than the budget left.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

# opensearch-py reports a timeout as status "TIMEOUT", a refused/reset connection as "N/A".
TIMEOUT = "TIMEOUT"
# A request never waits longer than this, nor longer than the budget left.
REQUEST_TIMEOUT = 60.0
# What a pause must leave of the budget: time for the request it waited for.
MARGIN = 1.0


class Action(Enum):
    DONE = "done"
    RETRY = "retry"
    OVERLOAD_RETRY = "overload-retry"
    CONFLICT = "conflict"
    REFUSED = "refused"

    @property
    def retryable(self) -> bool:
        """Whether the same request, sent again later, may succeed."""
        return self is Action.RETRY or self is Action.OVERLOAD_RETRY


_RETRY = frozenset({500, 502, 504})
_OVERLOAD = frozenset({429, 503})


def classify(status: int | str | None) -> Action:
    """The action for the status of a _bulk item, or of a request that raised (see
    `status_of`: an int, "TIMEOUT", "N/A", or None when there was no answer)."""
    if isinstance(status, int):
        if status < 300:
            return Action.DONE
        if status in _OVERLOAD:
            return Action.OVERLOAD_RETRY
        if status in _RETRY:
            return Action.RETRY
        return Action.CONFLICT if status == 409 else Action.REFUSED
    return Action.OVERLOAD_RETRY if status == TIMEOUT else Action.RETRY


def status_of(exc: Exception) -> int | str | None:
    """The status of a request that raised (opensearch-py's TransportError.status_code)."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int | str) else None


def reason_of(error: Any) -> str:
    """The text of a _bulk item's `error`: type, reason and cause."""
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    return str(error)


def unlimited() -> float:
    """A time budget that never runs out (outside Lambda)."""
    return float("inf")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter within a time budget (`remaining`: seconds left)."""

    base: float = 0.2
    cap: float = 20.0
    remaining: Callable[[], float] = unlimited
    sleep: Callable[[float], None] = time.sleep
    # The jitter: a number drawn uniformly between two bounds.
    draw: Callable[[float, float], float] = random.uniform

    def delay(self, attempt: int) -> float:
        """The pause before trying again after `attempt` (1, 2, ...) attempts in a row failed."""
        return self.draw(0, min(self.cap, self.base * 2**attempt))

    def affords(self, delay: float) -> bool:
        """Whether the budget has room for this pause and the request after it."""
        return self.remaining() >= delay + MARGIN

    def request_timeout(self) -> float | None:
        """How long one request may wait: never past the budget (None: no budget)."""
        left = self.remaining()
        if left == float("inf"):
            return None
        # A hung connection must not eat the budget.
        return max(MARGIN, min(REQUEST_TIMEOUT, left - MARGIN))
