"""One poller per server process for every open live stream.

Each interval the hub re-checks every distinct credential once and reads the new events once
per distinct caller and cursor — all caught-up anonymous citizens share one query, all streams
of one operator another — and hands each watcher its page. Database work grows with the number
of distinct callers, not of open sockets.
"""

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from huizhili.errors import HuizhiliError, RateLimitedError, UnavailableError
from huizhili.events import Position, current_position, read_events
from huizhili.policy import ANONYMOUS, Principal, require, scope_for
from huizhili.web.deps import principal_from_secrets

log = logging.getLogger(__name__)

MAX_FAILED_POLLS = 20
"""Polls in a row that may fail (a locked or restarting database) before every stream is closed."""
MAX_BACKLOG = 100
"""Undelivered polls a watcher may hold before it is dropped as too slow (it may resume by cursor)."""

Delivery = list[dict[str, Any]] | HuizhiliError
"""What a watcher receives per poll: its new events, or the error that ends its stream."""


@dataclass(eq=False)
class Watcher:
    """One open stream: the credentials it presented, how far it has read, and its inbox."""

    secrets: tuple[str | None, ...]
    cursor: Position
    inbox: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)


def authorised(session: Session, secrets: tuple[str | None, ...]) -> Principal:
    """The principal behind ``secrets`` (anonymous when none), who must be allowed to watch."""
    principal = principal_from_secrets(session, secrets) or ANONYMOUS
    require(principal, "read:public")
    return principal


@dataclass(eq=False)
class StreamHub:
    """Polls for every watcher of this process at once; runs while anyone watches."""

    sessions: sessionmaker[Session]
    poll_s: float
    limit: int
    watchers: set[Watcher] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None

    def join(self, watcher: Watcher) -> None:
        """Start delivering to ``watcher`` from the next poll."""
        self.watchers.add(watcher)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def leave(self, watcher: Watcher) -> None:
        """Stop delivering to ``watcher``."""
        self.watchers.discard(watcher)

    async def _run(self) -> None:
        failed = 0
        while self.watchers:
            await asyncio.sleep(self.poll_s)
            watchers = list(self.watchers)
            try:
                deliveries = await run_in_threadpool(self._poll, watchers)
            except Exception:  # a locked or restarting database: cursors stay, the next poll retries
                log.exception("live-stream poll failed")
                failed += 1
                if failed >= MAX_FAILED_POLLS:
                    self._close_all(watchers, UnavailableError("the database is not answering; reconnect later"))
                continue
            failed = 0
            for watcher, delivery, cursor in deliveries:
                watcher.cursor = cursor
                if watcher.inbox.qsize() >= MAX_BACKLOG:
                    delivery = RateLimitedError("the stream fell behind; reconnect with after=<the last event's cursor>")
                if isinstance(delivery, HuizhiliError):
                    self.leave(watcher)
                watcher.inbox.put_nowait(delivery)

    def _close_all(self, watchers: list[Watcher], error: HuizhiliError) -> None:
        for watcher in watchers:
            self.leave(watcher)
            watcher.inbox.put_nowait(error)

    def _poll(self, watchers: list[Watcher]) -> list[tuple[Watcher, Delivery, Position]]:
        """Authenticate each distinct credential once; read once per distinct caller and cursor.

        Watchers that are caught up share a cursor (the horizon of the last poll, one for all its
        reads), so in the steady state this is one read per caller; one resuming from far back
        reads its own pages and delays no one.
        Nothing changes until the whole poll has succeeded: the caller applies the new cursors.
        """
        deliveries: list[tuple[Watcher, Delivery, Position]] = []
        groups: dict[tuple[Principal, Position], list[Watcher]] = defaultdict(list)
        with self.sessions() as session, session.begin():
            outcomes: dict[tuple[str | None, ...], Principal | HuizhiliError] = {}
            for secrets in {w.secrets for w in watchers}:
                try:
                    outcomes[secrets] = authorised(session, secrets)
                except HuizhiliError as error:
                    outcomes[secrets] = error
            for watcher in watchers:
                outcome = outcomes[watcher.secrets]
                if isinstance(outcome, HuizhiliError):
                    deliveries.append((watcher, outcome, watcher.cursor))
                else:
                    groups[outcome, watcher.cursor].append(watcher)
            horizon = current_position(session)  # one for every read: caught-up watchers end at the same cursor
            for (principal, cursor), members in groups.items():
                page = read_events(session, scope_for(principal), cursor, self.limit, horizon=horizon)
                deliveries += [(watcher, page.events, page.cursor) for watcher in members]
        return deliveries
