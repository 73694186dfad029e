"""The FastAPI application: routers mounted in one place, errors mapped to statuses in one handler."""

import logging
import math
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from huizhili import __version__
from huizhili.config import Settings, load_settings
from huizhili.errors import HuizhiliError, ImportFailed, SignInDelayed
from huizhili.network.finder import NetworkCache, warm_up
from huizhili.storage.engine import create_engine, session_factory
from huizhili.web.deps import Allow, status_of
from huizhili.web.headers import SecurityHeaders
from huizhili.web.limits import BodySizeLimit, RateLimiter
from huizhili.web.routers import (
    auth,
    base,
    cases,
    devices,
    docs,
    events,
    imports,
    jobs,
    network,
    open311,
    programmes,
    sensing,
    users,
)
from huizhili.web.schemas import Problem
from huizhili.web.stream_hub import StreamHub

log = logging.getLogger(__name__)

PUBLIC_PERMISSIONS = frozenset({"none", "read:public"})
"""Permissions anonymous callers hold: their operations need no credentials."""

ROUTERS = (
    auth.router, base.router, users.router, devices.router, sensing.router, imports.router, jobs.router, network.router,
    events.router, cases.router, open311.router, programmes.router,
)
"""Every API router, mounted under ``/api``."""


class _App(FastAPI):
    """FastAPI with :class:`SecurityHeaders` outside its server-error handler, so a 500 carries them too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the app for ``settings``; the schema must already be migrated.

    Parameters
    ----------
    settings
        Validated settings.
    engine
        An engine to share (tests); by default one is made from the settings.
    """
    app = _App(
        title="huizhili 汇治理",
        version=__version__,
        description="City operations platform: digital base, identity and area scoping.",
        docs_url=None,  # our own pages (routers/docs.py) serve vendored copies instead of a CDN's
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or create_engine(settings.resolved_database_url)
    app.state.sessions = session_factory(app.state.engine)
    app.state.rate_limiter = RateLimiter(settings.anonymous_requests_per_minute)
    app.state.network = NetworkCache(settings.data_dir / "cache")
    app.state.stream_connections = Counter()
    app.state.stream_hub = StreamHub(app.state.sessions, settings.stream_poll_seconds, settings.page_size_max)


    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness, version and which database backend is in use (public, no credentials)."""
        return {"status": "ok", "version": __version__, "database": app.state.engine.dialect.name}

    for router in ROUTERS:
        app.include_router(router, prefix="/api")
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=docs.STATIC), name="static")
    # Starlette types every handler as taking any Exception, not the class it is added for
    # (Kludex/starlette#2417), hence the ignores.
    app.add_exception_handler(HuizhiliError, _problem)  # type: ignore[arg-type]
    app.add_exception_handler(open311.Open311Failure, lambda _request, error: open311.open311_error(error))
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_middleware(
        BodySizeLimit,
        limit=settings.request_max_bytes,
        uploads=(("/api/imports", settings.upload_max_bytes), ("/api/programme-imports", settings.upload_max_bytes),
                 # a photo, with room for the form around it
                 (r"/api/cases/[0-9]+/photos", settings.photo_max_bytes + 64 * 1024),
                 (r"/api/me/cases/[0-9]+/photos", settings.photo_max_bytes + 64 * 1024)),
    )
    app.openapi = lambda: _openapi_document(app)  # type: ignore[method-assign]  # FastAPI's documented override
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Before the server accepts connections, load what the first request would wait for (``warm_start``)."""
    if app.state.settings.warm_start:
        await run_in_threadpool(_warm, app)
    yield


def _warm(app: FastAPI) -> None:
    """Prepare the routes and the finder; a database not answering yet only leaves the finder to its first request.

    FastAPI prepares an included router's routes on the first request that passes through
    them (0.1 s for this app); building the OpenAPI document, which ``/docs`` asks for anyway,
    prepares them all.
    """
    app.openapi()
    try:
        with app.state.sessions() as session:
            warm_up(session, app.state.network)
    except SQLAlchemyError as error:
        log.warning("warm start skipped, the first request will load the walk network: %s", error)


ERROR_RESPONSES = {
    "400": "The body could not be parsed (malformed JSON or form).",
    "401": "Missing, malformed, expired or revoked credentials.",
    "403": "The role may not do this.",
    "404": "No such record, or it lies outside the caller's scope.",
    "409": "Conflicts with what exists, or a name matches several areas.",
    "411": "An upload did not declare its Content-Length.",
    "413": "Request body too large.",
    "422": "Invalid input; for imports, ``record`` names the record that broke.",
    "429": "Too many requests from this address, or too many failed sign-ins (see Retry-After).",
    "503": "The database did not answer or could not store the change; nothing was changed.",
}
"""Error statuses every operation may answer with, all in the ``Problem`` shape (422 also FastAPI's)."""


def server_options(settings: Settings) -> dict[str, Any]:
    """Uvicorn options every server of the app uses: the maintained WebSocket implementation, bounded frames.

    ``X-Forwarded-For`` is believed only from ``trusted_proxies`` (uvicorn would otherwise trust
    any local caller), so the address that rate limits and sign-in delays count is not the caller's to pick.
    """
    proxies = {"proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies} if settings.trusted_proxies else {"proxy_headers": False}
    return {"ws": "websockets-sansio", "ws_max_size": settings.request_max_bytes, **proxies}


def app_from_environment() -> FastAPI:
    """The app built from ``HUIZHILI_*`` settings: the factory each server worker process calls."""
    return create_app(load_settings())


def _openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with each operation's permission (``x-permission``).

    Also its error responses, and optional security on operations open to anonymous citizens.
    """
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema["components"]["schemas"]["Problem"] = Problem.model_json_schema()
    problem = {"$ref": "#/components/schemas/Problem"}
    permissions = {("/api/health", "get"): "none"}
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIRoute) and route.include_in_schema:
            needed = [d.call.permission for d in route.dependant.dependencies if isinstance(d.call, Allow)]
            permissions.update({("/api" + route.path_format, m.lower()): needed[0] for m in route.methods or ()})
    for (path, method), permission in permissions.items():
        operation = schema["paths"][path][method]
        operation["x-permission"] = permission
        if permission in PUBLIC_PERMISSIONS:
            operation["security"] = [{}, *operation.get("security", [])]
        responses = operation.setdefault("responses", {})
        for status, text in ERROR_RESPONSES.items():
            if status == "422" and status in responses:
                responses[status]["content"]["application/json"]["schema"] = {"anyOf": [responses[status]["content"]["application/json"]["schema"], problem]}
            elif status == "422":  # an endpoint that checks its body itself (the upload form) answers FastAPI's shape too
                responses[status] = {"description": text, "content": {"application/json": {"schema": {"anyOf": [
                    {"$ref": "#/components/schemas/HTTPValidationError"}, problem]}}}}
            else:
                responses.setdefault(status, {"description": text, "content": {"application/json": {"schema": problem}}})
    app.openapi_schema = schema
    return schema


async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, made safe to send when the refused input was an infinite or NaN number."""
    return JSONResponse({"detail": _json_safe(jsonable_encoder(error.errors()))}, status_code=422)


def _json_safe(value: Any) -> Any:
    """Non-finite floats as text (JSON has no Infinity or NaN), lone surrogates escaped (UTF-8 has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
    """Starlette's errors, with ``Allow`` listing every method of the path on 405 (not only the first route's)."""
    headers = dict(error.headers or {})
    if error.status_code == 405:
        paths = request.app.openapi()["paths"]
        methods = {
            method.upper()
            for template, operations in paths.items()
            if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), request.url.path)
            for method in operations
        }
        headers["Allow"] = ", ".join(sorted(methods))
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)


async def _problem(_request: Request, error: HuizhiliError) -> JSONResponse:
    """Map a domain error to its status with a ``detail`` (and ``record`` for imports)."""
    status = status_of(error)
    body: dict[str, Any] = {"detail": str(error)}
    if isinstance(error, ImportFailed) and error.record:
        body["record"] = error.record
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(error, SignInDelayed):
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(body, status_code=status, headers=headers)
