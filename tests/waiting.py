"""Waiting on conditions, not clocks: a test polls for what it expects, up to a deadline."""

import time
from collections.abc import Callable
from typing import TypeVar

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
