"""Live events in the caller's scope: a page at a time over HTTP, or pushed over a WebSocket.

Both read through :func:`huizhili.events.read_events` with the caller's scope, so a stream is
filtered exactly like the lists, maps and counts. The WebSocket protocol:

1. connect to ``/api/stream`` (credentials in ``Authorization``/``X-API-Key`` headers, or in
   the first message for browsers);
2. send one JSON message, :class:`~huizhili.web.schemas.StreamSubscription`;
3. receive ``{"type": "subscribed", "cursor": …}`` and then ``{"type": "event", …}`` messages;
   to resume after a reconnection, subscribe with ``after`` = the last event's ``cursor``.

One hub per server process polls for all streams (``web/stream_hub.py``); it checks every
credential again at each poll, so a revoked key or closed account ends its stream within
``stream_poll_seconds``. The stream is one-way: a second message from the client
closes it. Errors arrive as ``{"type": "error", "status": …}``
followed by a close with code 4000 + the HTTP status (4400, 4401, 4403, 4408, 4429, 4503).
"""

import asyncio
import json
from typing import Any

import pydantic
from fastapi import APIRouter, Query, WebSocket
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from huizhili.errors import AuthenticationError, HuizhiliError, RateLimitedError
from huizhili.events import (
    CURSOR_PATTERN,
    START,
    EventPage,
    Position,
    current_position,
    read_events,
)
from huizhili.policy import ANONYMOUS, Principal, scope_for
from huizhili.web.deps import ReadPublic, SessionDep, SettingsDep, count_anonymous, status_of
from huizhili.web.schemas import EventPageOut, StreamSubscription
from huizhili.web.stream_hub import Delivery, Watcher, authorised

router = APIRouter(tags=["events"])

SUBSCRIBE_TIMEOUT_S = 10.0
"""How long a new connection may take to send its subscription."""


@router.get("/events", response_model=EventPageOut)
def list_events(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReadPublic,
    after: str | None = Query(None, pattern=CURSOR_PATTERN, description="Events after this cursor (omitted: from the oldest kept)."),
    limit: int = Query(100, ge=1, le=1_000_000, description="Events per page (capped by the server)."),
) -> dict[str, Any]:
    """Events the caller's scope shows, oldest first; ask again with ``after=cursor`` for more."""
    start = START if after is None else Position.parse(after)
    page = read_events(session, scope_for(principal), start, min(limit, settings.page_size_max))
    return {"events": page.events, "cursor": str(page.cursor)}


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Push the caller's events as they are committed (see the module's protocol)."""
    client = websocket.client.host if websocket.client else "unknown"
    connections, settings = websocket.app.state.stream_connections, websocket.app.state.settings
    await websocket.accept()
    if connections.total() >= settings.stream_connections_max:
        await _refuse(websocket, RateLimitedError("the server holds as many live streams as it may; try again later"))
        return
    if connections[client] >= settings.stream_connections_per_address:
        await _refuse(websocket, RateLimitedError("too many live streams from this address"))
        return
    connections[client] += 1
    try:
        await _serve(websocket, client)
    finally:
        connections[client] -= 1
        if not connections[client]:
            del connections[client]


async def _serve(websocket: WebSocket, client: str) -> None:
    app = websocket.app
    settings = app.state.settings
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=SUBSCRIBE_TIMEOUT_S)
    except TimeoutError:
        await _close(websocket, 408, "send the subscription first, within 10 s")
        return
    if message["type"] == "websocket.disconnect":
        return
    try:
        subscription = StreamSubscription.model_validate_json(message.get("text") or message.get("bytes") or b"")
    except pydantic.ValidationError as error:
        await _close(websocket, 400, f"invalid subscription: {error.errors()[0]['msg']}")
        return
    try:
        secrets = (_bearer(websocket), websocket.headers.get("x-api-key"), subscription.token)
        principal, page = await run_in_threadpool(_subscribe, app.state.sessions, secrets, subscription.after, settings.page_size_max)
        if principal is ANONYMOUS:
            count_anonymous(app.state.rate_limiter, client)
    except HuizhiliError as error:
        await _refuse(websocket, error)
        return
    await websocket.send_json({"type": "subscribed", "cursor": str(page.cursor), "role": principal.role})
    await _send(websocket, page.events)
    hub, watcher = app.state.stream_hub, Watcher(secrets, page.cursor)
    hub.join(watcher)
    receiver = asyncio.ensure_future(websocket.receive())
    delivery: asyncio.Future[Delivery] | None = None
    try:
        while True:
            delivery = asyncio.ensure_future(watcher.inbox.get())
            done, _ = await asyncio.wait({receiver, delivery}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:  # gone, or talking on a one-way stream: either way it ends here
                if receiver.result()["type"] != "websocket.disconnect":
                    await _close(websocket, 400, "the stream is one-way: send only the subscription")
                return
            result = delivery.result()
            if isinstance(result, HuizhiliError):
                await _refuse(websocket, result)
                return
            await _send(websocket, result)
    finally:
        hub.leave(watcher)
        receiver.cancel()
        if delivery is not None:
            delivery.cancel()


def _subscribe(
    sessions: sessionmaker[Session], secrets: tuple[str | None, ...], after: str | None, limit: int
) -> tuple[Principal, EventPage]:
    """Check the watcher and read its backlog (``after`` None: none, from now on)."""
    with sessions() as session, session.begin():
        principal = authorised(session, secrets)
        if after is None:
            return principal, EventPage([], current_position(session))
        return principal, read_events(session, scope_for(principal), Position.parse(after), limit)


async def _send(websocket: WebSocket, events: list[dict[str, Any]]) -> None:
    for event in events:
        await websocket.send_text(json.dumps({"type": "event", **event}, ensure_ascii=False))


def _bearer(websocket: WebSocket) -> str | None:
    """The token of the ``Authorization`` header, which, if present, must be ``Bearer <token>``."""
    header = websocket.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        message = "Authorization must be 'Bearer <access token>'"
        raise AuthenticationError(message)
    return token.strip()


async def _refuse(websocket: WebSocket, error: HuizhiliError) -> None:
    await _close(websocket, status_of(error), str(error))


async def _close(websocket: WebSocket, status: int, detail: str) -> None:
    """Say why in an error message, then close with 4000 + the HTTP status."""
    await websocket.send_text(json.dumps({"type": "error", "status": status, "detail": detail}, ensure_ascii=False))
    await websocket.close(code=4000 + status, reason=detail.encode()[:120].decode(errors="ignore"))
