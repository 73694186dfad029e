"""Device credentials for the MQTT broker and HTTP ingest."""

from typing import Annotated

from fastapi import APIRouter, Path

from huizhili.identity.accounts import create_device_account
from huizhili.web.deps import ManageDevices, SessionDep
from huizhili.web.schemas import SecretOut

router = APIRouter(tags=["identity"])


@router.post("/devices/{code}/credentials", response_model=SecretOut, status_code=201)
def device_credentials(
    code: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    session: SessionDep,
    _: ManageDevices,
) -> dict[str, str]:
    """Create a device's account; the MQTT password is shown once (regenerate the broker files after)."""
    user, password = create_device_account(session, code)
    return {"username": user.username, "secret": password}
