"""Alert webhooks: every alert event POSTed, signed, in order, retried until it is taken.

The event feed is the outbox: alert changes are events already, written with the change
(``events.publish``), so nothing is lost between an alert and its delivery. A cursor per
webhook (``webhook_cursors``) says how far it has been delivered; it moves on only past events
the receiver answered 2xx to. Delivery is at least once — a receiver drops repeats by the
``X-Huizhili-Delivery`` header (the event's cursor) — and in order: while one fails, those after
it wait. The body is signed with HMAC-SHA256 over ``<timestamp>.<body>`` (``X-Huizhili-Timestamp``,
``X-Huizhili-Signature: sha256=<hex>``), so a receiver can check it came from the platform and
refuse old replays.
"""

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from sqlalchemy.orm import Session

from huizhili.events import Position, current_position, read_events
from huizhili.policy import Scope
from huizhili.storage.models import WebhookCursor

ALERTS = "alerts"
"""The one webhook there is: alert events to ``alert_webhook_url``."""


class DeliveryFailed(Exception):
    """The receiver did not take an event (an error status, or no answer); it is tried again later."""



def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Huizhili-Signature`` of a delivery: ``sha256=`` and the HMAC of ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def deliver_pending(session: Session, client: httpx.Client, url: str, secret: str, *, limit: int = 100) -> tuple[int, str | None]:
    """Deliver the alert events after the webhook's cursor, in order: how many were taken, and why the next was not.

    A first run starts at the feed's present: a new receiver gets alerts from now on, not the
    history. The cursor moves with every event taken; at the first one not taken it stays before
    it and the failure is counted. The caller commits either way.
    """
    row = session.get(WebhookCursor, ALERTS)
    if row is None:
        row = WebhookCursor(name=ALERTS, cursor=str(current_position(session)), delivered=0, failures=0)
        session.add(row)
        session.flush()
        return 0, None
    page = read_events(session, Scope.system(), Position.parse(row.cursor), limit)
    delivered = 0
    for event in page.events:
        if event["kind"].startswith("alert."):
            try:
                _post(client, url, secret, event)
            except DeliveryFailed as error:
                row.failures += 1
                row.last_error = str(error)[:1000]
                session.flush()
                return delivered, str(error)
            row.delivered += 1
            delivered += 1
        row.cursor, row.failures, row.last_error = event["cursor"], 0, None
    if len(page.events) < limit:
        row.cursor = str(page.cursor)
    session.flush()
    return delivered, None


def _post(client: httpx.Client, url: str, secret: str, event: dict[str, Any]) -> None:
    body = json.dumps({"event": event["kind"], "cursor": event["cursor"], "at": event["at"], "alert": event["payload"]},
                      ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Huizhili-Event": event["kind"], "X-Huizhili-Delivery": event["cursor"],
               "X-Huizhili-Timestamp": timestamp, "X-Huizhili-Signature": signature(secret, timestamp, body)}
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as error:
        message = f"{event['kind']} {event['cursor']}: {type(error).__name__}: {error}"
        raise DeliveryFailed(message) from error
    if not response.is_success:
        message = f"{event['kind']} {event['cursor']}: the receiver answered {response.status_code}"
        raise DeliveryFailed(message)
