"""Sign-in attempts: every one logged, and guessing slowed by delays that grow with failures.

The delays are counted from the access log, so every server process sees the same counts.
Three counters, so that neither guessing nor the defence against it can be turned on a user:

- one account from one address: after 5 failures, 1 s, doubling per further failure, at most
  15 minutes — a guesser at the keyboard gets a few hundred tries a day;
- one account from anywhere: after 10 failures, 1 s, doubling, at most 60 s — guessing spread
  over many addresses is slowed too, but a stranger can never lock the real user out for more
  than a minute;
- one address, any account: after 20 failures in an hour, the same doubling up to 15 minutes —
  spraying one common password over many accounts.

A successful sign-in clears the account's counters. An attempt made while a delay runs is
refused without looking at the password (so it tells the guesser nothing), logged, and does not
lengthen the delay.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.storage.models import AccessLog, utcnow

RESOURCE = "sign_in"
"""``access_log.resource`` of sign-in attempts (filter the access log by it for an audit)."""
SUCCEEDED, FAILED, DELAYED = "sign_in", "sign_in_failed", "sign_in_delayed"
"""``access_log.action`` of a successful, a failed, and a refused-while-delayed attempt."""


@dataclass(frozen=True)
class Counter:
    """Failures tolerated before delays start, and the longest delay, for one kind of count."""

    name: str
    free_failures: int
    longest: timedelta
    window: timedelta


PAIR = Counter("this account from this address", 5, timedelta(minutes=15), timedelta(days=1))
ACCOUNT = Counter("this account", 10, timedelta(seconds=60), timedelta(days=1))
ADDRESS = Counter("this address", 20, timedelta(minutes=15), timedelta(hours=1))


def delay(counter: Counter, failures: int) -> timedelta:
    """How long to wait after the latest of ``failures`` failures: 0, then 1 s doubling, capped."""
    if failures < counter.free_failures:
        return timedelta(0)
    exponent = min(failures - counter.free_failures, 30)
    return min(timedelta(seconds=2**exponent), counter.longest)


def wait_needed(session: Session, username: str, address: str, *, now: datetime | None = None) -> tuple[int, str] | None:
    """Seconds still to wait before ``username`` may try from ``address``, and which count says so.

    None when the attempt may go ahead.
    """
    now = now or utcnow()
    waits = []
    for counter, condition in (
        (PAIR, sa.and_(AccessLog.username == username, AccessLog.address == address)),
        (ACCOUNT, AccessLog.username == username),
        (ADDRESS, AccessLog.address == address),
    ):
        failures, latest = _failures(session, counter, condition, username if counter is not ADDRESS else None, now)
        if latest is None:
            continue
        remaining = (latest + delay(counter, failures) - now).total_seconds()
        if remaining > 0:
            waits.append((math.ceil(remaining), counter.name))
    return max(waits) if waits else None


def _failures(
    session: Session, counter: Counter, condition: sa.ColumnElement[bool], username: str | None, now: datetime
) -> tuple[int, datetime | None]:
    """Failures matching ``condition`` within the counter's window (after the account's last success), and the latest."""
    since = now - counter.window
    if username is not None:
        last_success = session.scalar(
            sa.select(sa.func.max(AccessLog.at)).where(
                AccessLog.resource == RESOURCE, AccessLog.action == SUCCEEDED, AccessLog.username == username
            )
        )
        if last_success is not None:
            since = max(since, last_success)
    count, latest = session.execute(
        sa.select(sa.func.count(), sa.func.max(AccessLog.at)).where(
            AccessLog.resource == RESOURCE, AccessLog.action == FAILED, AccessLog.at > since, condition
        )
    ).one()
    return int(count or 0), latest


def log_attempt(session: Session, username: str, address: str, action: str, user_id: int | None) -> None:
    """Write one attempt to the access log (committed with the answer, whatever the answer is)."""
    session.add(
        AccessLog(user_id=user_id, username=username[:64], action=action, resource=RESOURCE, address=address[:64])
    )
    session.flush()
