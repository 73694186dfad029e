"""Waiting on conditions, not clocks: a test polls for what it expects, up to a deadline."""

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def until(condition: Callable[[], T], message: str, timeout: float = 10.0) -> T:
    """Call ``condition`` until it returns something true, and return that; fail with ``message`` at the deadline.

    The deadline only bounds a failing test: a passing one waits as long as the condition takes.
    """
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, message
        time.sleep(0.01)
    return result


def job_ended(client: Any, submitted: Any, headers: dict[str, str], timeout: float = 60.0) -> dict[str, Any]:
    """The job a 202 answer submitted, once a worker has ended it (the test needs the ``worker`` fixture)."""
    assert submitted.status_code == 202, submitted.text
    location = submitted.headers["Location"]

    def ended() -> dict[str, Any] | None:
        job = client.get(location, headers=headers).json()
        return job if job["state"] in {"succeeded", "failed", "cancelled"} else None

    return until(ended, f"job {location} did not end", timeout)
