"""Sign-in attempts: every one logged, and guessing slowed by delays that grow with failures.

The delays are counted from the access log, so every server process sees the same counts.
Three counters, so that neither guessing nor the defence against it can be turned on a user:

- one account from one address: after 5 failures, 1 s, doubling per further failure, at most
  15 minutes — a guesser at the keyboard gets a few hundred tries a day;
- one account from anywhere: after 10 failures, 1 s, doubling, at most 60 s — guessing spread
  over many addresses is slowed too;
- one address, any account: after 20 failures in an hour, the same doubling up to 15 minutes —
  spraying one common password over many accounts.

From an address where the account has signed in before (within 90 days) only the first
counter applies: strangers elsewhere, or sharing the office's address with other accounts,
cannot lock the real user out. A successful sign-in clears the account's counters. An attempt
made while a delay runs is refused without looking at the password (so it tells the guesser
nothing) and does not lengthen the delay; it is not logged, so refusals cannot grow the log.
Attempts on one account are taken one at a time (:func:`one_at_a_time`), so parallel guesses
each count. IPv6 addresses count by their /64 network, which one subscriber holds whole.
"""

import ipaddress
import math
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction

from huizhili.storage.models import AccessLog, utcnow

RESOURCE = "sign_in"
"""``access_log.resource`` of sign-in attempts (filter the access log by it for an audit)."""
SUCCEEDED, FAILED = "sign_in", "sign_in_failed"
"""``access_log.action`` of a successful and a failed attempt."""
KNOWN_ADDRESS = timedelta(days=90)
"""How long an address the account signed in from stays its own (exempt from the wider counters)."""
_LOCK_SPACE = 0x7369676E  # "sign": the first key of the advisory locks on PostgreSQL
_LOCAL_LOCKS = tuple(threading.Lock() for _ in range(64))


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


def counted_name(username: str) -> str:
    """The username as the log keeps it (its column holds 64 characters)."""
    return username[:64]


def counted_address(address: str) -> str:
    """The address as counted: IPv4 as it is, IPv6 as its /64 network."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def wait_needed(session: Session, username: str, address: str, *, now: datetime | None = None) -> tuple[int, str] | None:
    """Seconds still to wait before ``username`` may try from ``address``, and which count says so.

    None when the attempt may go ahead.
    """
    now = now or utcnow()
    username, address = counted_name(username), counted_address(address)
    last_success = session.scalar(
        sa.select(sa.func.max(AccessLog.at)).where(
            AccessLog.resource == RESOURCE, AccessLog.action == SUCCEEDED, AccessLog.username == username
        )
    )
    # Per-account counts start after the account's last success; the address count does not.
    counters: list[tuple[Counter, sa.ColumnElement[bool], datetime | None]] = [
        (PAIR, sa.and_(AccessLog.username == username, AccessLog.address == address), last_success)]
    if not _known_address(session, username, address, now):
        counters += [(ACCOUNT, AccessLog.username == username, last_success), (ADDRESS, AccessLog.address == address, None)]
    waits = []
    for counter, condition, counted_from in counters:
        failures, latest = _failures(session, counter, condition, counted_from, now)
        if latest is None:
            continue
        remaining = (latest + delay(counter, failures) - now).total_seconds()
        if remaining > 0:
            waits.append((math.ceil(remaining), counter.name))
    return max(waits) if waits else None


def _known_address(session: Session, username: str, address: str, now: datetime) -> bool:
    """Whether the account signed in from this address within :data:`KNOWN_ADDRESS`."""
    return session.scalar(
        sa.select(AccessLog.id).where(
            AccessLog.resource == RESOURCE, AccessLog.action == SUCCEEDED, AccessLog.username == username,
            AccessLog.address == address, AccessLog.at > now - KNOWN_ADDRESS,
        ).limit(1)
    ) is not None


def one_at_a_time(session: Session, username: str) -> None:
    """Hold further attempts on ``username`` until this transaction ends.

    Without it, parallel guesses all read the count before any of them is logged. PostgreSQL:
    a transaction-scoped advisory lock (every server process); SQLite: a lock in this process.
    """
    username = counted_name(username)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_SPACE, sa.func.hashtext(username))))
        return
    lock = _LOCAL_LOCKS[zlib.crc32(username.encode()) % len(_LOCAL_LOCKS)]
    lock.acquire()
    held = [True]

    def release(_session: Session, transaction: SessionTransaction, *_: Any) -> None:
        if transaction.parent is None and held:
            held.clear()
            lock.release()

    sa.event.listen(session, "after_transaction_end", release)


def _failures(
    session: Session, counter: Counter, condition: sa.ColumnElement[bool], counted_from: datetime | None, now: datetime
) -> tuple[int, datetime | None]:
    """Failures matching ``condition`` within the counter's window and after ``counted_from``, and the latest."""
    since = max(now - counter.window, counted_from) if counted_from is not None else now - counter.window
    count, latest = session.execute(
        sa.select(sa.func.count(), sa.func.max(AccessLog.at)).where(
            AccessLog.resource == RESOURCE, AccessLog.action == FAILED, AccessLog.at > since, condition
        )
    ).one()
    return int(count or 0), latest


def log_attempt(session: Session, username: str, address: str, action: str, user_id: int | None) -> None:
    """Write one attempt to the access log (committed with the answer, whatever the answer is)."""
    session.add(
        AccessLog(user_id=user_id, username=counted_name(username), action=action, resource=RESOURCE,
                  address=counted_address(address))
    )
    session.flush()
