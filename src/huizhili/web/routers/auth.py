"""Signing in and out: the OAuth2 password flow with opaque, revocable tokens."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, OAuth2PasswordRequestForm

from huizhili.identity.accounts import refresh, revoke, sign_in
from huizhili.policy import ROLE_PERMISSIONS
from huizhili.web.deps import (
    OwnAccount,
    ReadPublic,
    SessionDep,
    api_key_scheme,
    bearer_scheme,
    client_address,
)
from huizhili.web.schemas import Me, RefreshIn, TokenOut

router = APIRouter(prefix="/auth", tags=["identity"])


@router.post("/token", response_model=TokenOut)
def token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, _: ReadPublic
) -> dict[str, Any]:
    """Sign in with username and password; returns an access token and a refresh token.

    Every attempt is logged; repeated failures for an account or from an address are answered
    429 with ``Retry-After`` for a while that grows with them.
    """
    return sign_in(session, form.username, form.password, address=client_address(request)).__dict__


@router.post("/refresh", response_model=TokenOut)
def refresh_tokens(body: RefreshIn, session: SessionDep, _: ReadPublic) -> dict[str, Any]:
    """Trade a refresh token for a new pair (the old refresh token stops working).

    A refresh token used twice has been copied: every token of its sign-in is revoked.
    """
    return refresh(session, body.refresh_token).__dict__


@router.post("/logout", status_code=204)
def logout(
    session: SessionDep,
    _: OwnAccount,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> None:
    """Sign out the credential of this request, for good.

    A token goes with its refresh token and every token of the same sign-in; an API key is revoked.
    """
    for secret in (bearer and bearer.credentials, api_key):
        if secret:
            revoke(session, secret)


@router.get("/me", response_model=Me)
def me(principal: OwnAccount) -> dict[str, Any]:
    """Who the caller is and what their role may do."""
    return {
        "username": principal.username,
        "role": principal.role,
        "streets": sorted(principal.streets),
        "department": principal.department,
        "committees": sorted(principal.committees),
        "grid_cells": sorted(principal.grid_cells),
        "permissions": sorted(ROLE_PERMISSIONS[principal.role]),
    }
