"""Typed dependencies shared by every router: settings, a session, and who is asking."""

from collections.abc import Iterable, Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

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
    UnavailableError,
    ValidationError,
)
from huizhili.identity.accounts import authenticate
from huizhili.policy import ANONYMOUS, Principal, require
from huizhili.web.limits import RateLimiter


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A session per request, committed before the response is sent.

    An endpoint that raises rolls everything back. One that returns commits here; a commit
    that fails is rolled back whole and answered 503, so a caller never holds a success
    whose write was lost. The dependency is function-scoped (``SessionDep``): FastAPI closes it
    after the endpoint and its response model, but before the response leaves.

    Raises
    ------
    UnavailableError
        If the commit fails (the database went away, a disk filled up, a lock timed out).
    """
    with request.app.state.sessions() as session:
        session.begin()
        try:
            yield session
        except HuizhiliError as error:
            if not error.commit_first:
                session.rollback()
                raise
            _commit(session)
            raise
        except sa.exc.OperationalError as error:
            # A statement that could not run: the database is down, or (SQLite) a job holds its write lock.
            session.rollback()
            message = "the database is busy or not answering; nothing was changed, try again shortly"
            raise UnavailableError(message) from error
        except BaseException:
            session.rollback()
            raise
        _commit(session)


def _commit(session: Session) -> None:
    """Commit, or roll back whole and refuse with 503."""
    try:
        session.commit()
    except sa.exc.SQLAlchemyError as error:
        session.rollback()
        message = "the change could not be stored; nothing was changed, try again"
        raise UnavailableError(message) from error


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

bearer_scheme = HTTPBearer(auto_error=False, description="Access token from POST /api/auth/token.")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of an Open311 client, device or service.")


def get_principal(
    request: Request,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """The caller: from a bearer token or an API key, else anonymous (and rate-limited).

    Any credential presented must be valid — a malformed ``Authorization`` header, a bad key, or
    two credentials of different users are refused, never treated as anonymous or skipped.
    """
    authorization = request.headers.get("authorization")
    if authorization is not None and bearer is None:
        message = "Authorization must be 'Bearer <access token>'"
        raise AuthenticationError(message)
    principal = principal_from_secrets(session, [bearer.credentials if bearer else None, api_key])
    if principal is not None:
        return principal
    count_anonymous(request.app.state.rate_limiter, client_address(request))
    return ANONYMOUS


def client_address(request: Request) -> str:
    """The caller's address: the peer's, or what a trusted proxy says (``trusted_proxies``).

    Uvicorn rewrites the peer from ``X-Forwarded-For`` only when the peer is one of the
    configured proxies (:func:`huizhili.web.app.server_options`), so a caller cannot pick it.
    """
    return request.client.host if request.client else "unknown"


def count_anonymous(limiter: RateLimiter, client: str) -> None:
    """Count one anonymous request (or stream) from ``client``.

    Raises
    ------
    RateLimitedError
        If the address has made too many in the last minute.
    """
    if not limiter.allow(client):
        message = "too many requests from this address; try again in a minute"
        raise RateLimitedError(message)


def principal_from_secrets(session: Session, secrets: Iterable[str | None]) -> Principal | None:
    """The one user behind the presented bearer tokens or API keys; None when none is presented.

    Raises
    ------
    AuthenticationError
        If a secret is invalid, or secrets of two different users are presented.
    """
    users = {user.id: user for secret in secrets if secret for user in [authenticate(session, secret)]}
    if len(users) > 1:
        message = "credentials of two different users were presented"
        raise AuthenticationError(message)
    return Principal.of(next(iter(users.values()))) if users else None


PrincipalDep = Annotated[Principal, Depends(get_principal)]


class Allow:
    """Dependency that admits only principals whose role grants ``permission``.

    Each endpoint names exactly one; ``web.app`` copies it into the OpenAPI document as
    ``x-permission`` so the authorisation matrix test covers every endpoint.
    """

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __call__(self, principal: PrincipalDep) -> Principal:
        require(principal, self.permission)
        return principal


# One alias per permission an endpoint needs, named for it: an endpoint declares
# ``principal: ReadBase``. Aliases rather than a function returning ``Annotated[...]``, because a
# call is no type to a type checker; a route made in a loop writes ``Annotated[Principal,
# Depends(Allow(permission))]`` itself (routers/base.py).
ReadPublic = Annotated[Principal, Depends(Allow("read:public"))]
ReadBase = Annotated[Principal, Depends(Allow("read:base"))]
ReadUsers = Annotated[Principal, Depends(Allow("read:users"))]
ReadPersonal = Annotated[Principal, Depends(Allow("read:personal"))]
WriteImports = Annotated[Principal, Depends(Allow("write:imports"))]
WriteFacilityStatus = Annotated[Principal, Depends(Allow("write:facility_status"))]
RunAnalysis = Annotated[Principal, Depends(Allow("run:analysis"))]
ManageUsers = Annotated[Principal, Depends(Allow("manage:users"))]
ManageDevices = Annotated[Principal, Depends(Allow("manage:devices"))]
OwnAccount = Annotated[Principal, Depends(Allow("self"))]
HandleAlerts = Annotated[Principal, Depends(Allow("handle:alerts"))]


STATUS_BY_ERROR: tuple[tuple[type[HuizhiliError], int], ...] = (
    (AuthenticationError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (AmbiguousError, 409),
    (ConflictError, 409),
    (ImportFailed, 422),
    (ValidationError, 422),
    (RateLimitedError, 429),
    (UnavailableError, 503),
)
"""Domain errors → HTTP status; anything else of ours is a 500."""


def status_of(error: HuizhiliError) -> int:
    """The HTTP status a domain error answers with (the live stream closes with 4000 + it)."""
    return next((code for kind, code in STATUS_BY_ERROR if isinstance(error, kind)), 500)
