"""The worker's webhook loop: alert events delivered as they come, retried with backoff while the receiver fails."""

import logging
import threading

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from huizhili.config import Settings
from huizhili.sensing.webhooks import deliver_pending
from huizhili.storage.engine import transaction

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""How often new alert events are looked for."""

BACKOFF_MAX_SECONDS = 300.0
"""Longest wait between tries at an event the receiver did not take (the wait doubles from 1 s)."""


def run_alert_webhook(sessions: sessionmaker[Session], settings: Settings, stop: threading.Event) -> None:
    """POST alert events to ``alert_webhook_url``, signed with ``alert_webhook_secret`` (settings require both), until ``stop``."""
    url, secret = settings.alert_webhook_url, settings.alert_webhook_secret
    if not url or not secret:
        return
    backoff = 1.0
    with httpx.Client(timeout=10.0) as client:
        while not stop.is_set():
            wait = POLL_SECONDS
            try:
                with transaction(sessions) as session:
                    delivered, failure = deliver_pending(session, client, url, secret)
                if delivered:
                    log.info("%d alert events delivered to the webhook", delivered)
                if failure:
                    log.warning("webhook: %s; trying again in %.0f s", failure, backoff)
                    wait, backoff = backoff, min(backoff * 2, BACKOFF_MAX_SECONDS)
                else:
                    backoff = 1.0
            except sa.exc.OperationalError as error:
                log.warning("database not answering (%s); the webhook waits", error.orig)
                wait = 1.0
            stop.wait(wait)
