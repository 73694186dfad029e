"""The pages: the operations dashboard at ``/``, the citizen pages at ``/citizen``, and the API's documentation, Swagger UI at ``/docs`` and ReDoc at ``/redoc``.

FastAPI's own pages load both from a CDN, unpinned and without integrity, start them with an
inline script and ReDoc's with Google Fonts: blank offline, and refused by the app's
Content-Security-Policy. These pages load only vendored files from ``/static``
(``static/vendor/README.md``) and scripts from files, never inline.
"""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).parents[1] / "static"
"""The web layer's static files, served at ``/static``."""

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard() -> FileResponse:
    """The operations dashboard (区街一体化): its sign-in, then the district's map and panels (``static/app``)."""
    return FileResponse(STATIC / "app" / "index.html")


@router.get("/citizen")
def citizen() -> FileResponse:
    """The citizen pages (市民端), no sign-in: nearest services by walking, a case followed by its number, the league table."""
    return FileResponse(STATIC / "app" / "citizen.html")


@router.get("/docs")
def swagger_ui() -> FileResponse:
    """Swagger UI over the app's OpenAPI document."""
    return FileResponse(STATIC / "docs.html")


@router.get("/redoc")
def redoc() -> FileResponse:
    """ReDoc over the app's OpenAPI document."""
    return FileResponse(STATIC / "redoc.html")
