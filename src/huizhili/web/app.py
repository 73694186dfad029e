"""The FastAPI application: routers mounted in one place, errors mapped to statuses in one handler."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine

from huizhili import __version__
from huizhili.config import Settings
from huizhili.errors import (
    AmbiguousError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    HuizhiliError,
    ImportFailed,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from huizhili.storage.engine import create_engine, session_factory
from huizhili.web.deps import Allow
from huizhili.web.limits import BodySizeLimit, RateLimiter
from huizhili.web.routers import auth, base, devices, imports, users

ROUTERS = (auth.router, base.router, users.router, devices.router, imports.router)
"""Every API router, mounted under ``/api``."""

STATUS_BY_ERROR: tuple[tuple[type[HuizhiliError], int], ...] = (
    (AuthenticationError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (AmbiguousError, 409),
    (ConflictError, 409),
    (ImportFailed, 422),
    (ValidationError, 422),
    (RateLimitedError, 429),
)
"""Domain errors → HTTP status; anything else of ours is a 500."""


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the app for ``settings``; the schema must already be migrated.

    Parameters
    ----------
    settings
        Validated settings.
    engine
        An engine to share (tests); by default one is made from the settings.
    """
    app = FastAPI(
        title="huizhili 汇治理",
        version=__version__,
        description="City operations platform: digital base, identity and area scoping.",
    )
    app.state.settings = settings
    app.state.engine = engine or create_engine(settings.resolved_database_url)
    app.state.sessions = session_factory(app.state.engine)
    app.state.rate_limiter = RateLimiter(settings.anonymous_requests_per_minute)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness, version and which database backend is in use (public, no credentials)."""
        return {"status": "ok", "version": __version__, "database": app.state.engine.dialect.name}

    for router in ROUTERS:
        app.include_router(router, prefix="/api")
    app.add_exception_handler(HuizhiliError, _problem)  # type: ignore[arg-type]
    app.add_middleware(
        BodySizeLimit,
        limit=settings.request_max_bytes,
        upload_limit=settings.upload_max_bytes,
        upload_paths=("/api/imports",),
    )
    app.openapi = lambda: _openapi_with_permissions(app)  # type: ignore[method-assign]
    return app


def _openapi_with_permissions(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, each operation marked with the permission it requires (``x-permission``)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for route in (r for router in ROUTERS for r in router.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        needed = [d.call.permission for d in route.dependant.dependencies if isinstance(d.call, Allow)]
        for method in route.methods:
            schema["paths"]["/api" + route.path_format][method.lower()]["x-permission"] = needed[0]
    schema["paths"]["/api/health"]["get"]["x-permission"] = "none"
    app.openapi_schema = schema
    return schema


async def _problem(_request: Request, error: HuizhiliError) -> JSONResponse:
    """Map a domain error to its status with a ``detail`` (and ``record`` for imports)."""
    status = next((code for kind, code in STATUS_BY_ERROR if isinstance(error, kind)), 500)
    body: dict[str, Any] = {"detail": str(error)}
    if isinstance(error, ImportFailed) and error.record:
        body["record"] = error.record
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
