"""Protection against abuse: request size limits and a per-address rate limit for anonymous callers."""

import json
import re
import time
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimiter:
    """A sliding one-minute window per client address, kept in this process's memory.

    With several server processes each keeps its own window; put a shared limiter in front
    (the reverse proxy) for a hard global cap.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}

    def allow(self, client: str) -> bool:
        """Record one request from ``client``; False once it exceeds the limit."""
        now = time.monotonic()
        hits = self._hits.setdefault(client, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        return True


class BodySizeLimit:
    """Refuse request bodies over a limit with 413, whether or not Content-Length is sent.

    Uploads (paths matching one of ``uploads``, each with its own limit: an import's file, a
    case's photo) must declare their length (411 otherwise), since they are streamed to disk;
    other bodies are small and are read here in full, up to the limit, before the app sees them.
    """

    def __init__(self, app: ASGIApp, limit: int, uploads: tuple[tuple[str, int], ...]) -> None:
        self.app = app
        self.limit = limit
        self.uploads = tuple((re.compile(pattern), most) for pattern, most in uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload_limit = next((most for pattern, most in self.uploads if pattern.fullmatch(scope["path"])), None)
        is_upload = upload_limit is not None
        limit = upload_limit if upload_limit is not None else self.limit
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, 413, f"request body larger than {limit} bytes")
            return
        if is_upload:
            if declared is None and scope["method"] in {"POST", "PUT", "PATCH"}:
                await _refuse(send, 411, "uploads must declare their Content-Length")
                return
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > limit:
                await _refuse(send, 413, f"request body larger than {limit} bytes")
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
