"""Security headers on every HTTP response: no type sniffing, no framing, no referrer, a strict CSP.

The policy lets a page run only scripts served by the app itself, so an injected ``<script>`` or
``onclick=`` does nothing, and no other site may frame a page (clickjacking). It names no outside
host: the documentation pages load vendored copies of Swagger UI and ReDoc from ``/static``.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Styles only, never scripts: ReDoc (styled-components) writes its <style> elements as it
        # renders, and the life-circle report carries its own <style>. Swagger UI needs neither.
        "style-src 'self' 'unsafe-inline'",
        # Swagger UI's and ReDoc's icons are data: URIs in their stylesheets.
        "img-src 'self' data:",
        # ReDoc builds its search index in a worker it starts from a blob: URL.
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The Content-Security-Policy of every response."""

SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
"""Headers every HTTP response carries, replacing any of the same name the app set."""
_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every HTTP response; WebSocket and lifespan scopes pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in _NAMES]
                message = {**message, "headers": [*kept, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
