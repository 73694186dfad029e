"""Typed dependencies shared by every router: settings, a session, and who is asking."""

from collections.abc import Iterable, Iterator
from typing import Annotated

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
    return request.app.state.settings  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; writes commit only when the endpoint returns normally."""
    with request.app.state.sessions() as session, session.begin():
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]

bearer_scheme = HTTPBearer(auto_error=False, description="Access token from POST /api/auth/token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of an Open311 client, device or service.")


def get_principal(
    request: Request,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The caller: from a bearer token or an API key, else anonymous (and rate-limited).

    Any credential presented must be valid — a malformed ``Authorization`` header, a bad key, or
    two credentials of different users are refused, never treated as anonymous or skipped.
    """
    authorization = request.headers.get("authorization")
    if authorization is not None and bearer is None:
        message = "Authorization must be 'Bearer <access token>'"
        raise AuthenticationError(message)
    principal = principal_from_secrets(session, [bearer and bearer.credentials, api_key])
    if principal is not None:
        return principal
    count_anonymous(request.app.state.rate_limiter, request.client.host if request.client else "unknown")
    return ANONYMOUS


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


def allow(permission: str) -> type[Principal]:
    """``Annotated`` principal type for an endpoint that needs ``permission``."""
    return Annotated[Principal, Depends(Allow(permission))]  # type: ignore[return-value]


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
