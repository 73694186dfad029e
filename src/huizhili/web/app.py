"""The FastAPI application: routers mounted in one place, errors mapped to statuses in one handler."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.engine import Engine

from huizhili import __version__
from huizhili.config import Settings
from huizhili.errors import AmbiguousError, HuizhiliError, ImportFailed, NotFoundError, ValidationError
from huizhili.storage.engine import create_engine, session_factory
from huizhili.web.routers import base, imports

STATUS_BY_ERROR: tuple[tuple[type[HuizhiliError], int], ...] = (
    (NotFoundError, 404),
    (AmbiguousError, 409),
    (ImportFailed, 422),
    (ValidationError, 422),
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
        description="City operations platform: digital base, life circle, nearest services.",
    )
    app.state.settings = settings
    app.state.engine = engine or create_engine(settings.resolved_database_url)
    app.state.sessions = session_factory(app.state.engine)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness, version and which database backend is in use."""
        return {"status": "ok", "version": __version__, "database": app.state.engine.dialect.name}

    app.include_router(base.router, prefix="/api")
    app.include_router(imports.router, prefix="/api")
    app.add_exception_handler(HuizhiliError, _problem)  # type: ignore[arg-type]

    return app


async def _problem(_request: Request, error: HuizhiliError) -> JSONResponse:
    """Map a domain error to its status with a ``detail`` (and ``record`` for imports)."""
    status = next((code for kind, code in STATUS_BY_ERROR if isinstance(error, kind)), 500)
    body: dict[str, Any] = {"detail": str(error)}
    if isinstance(error, ImportFailed) and error.record:
        body["record"] = error.record
    return JSONResponse(body, status_code=status)
