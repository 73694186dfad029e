"""Alert webhooks against a real HTTP receiver: signed, in order, retried until taken, each event once taken."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sensing_samples import LIMITS

from huizhili.config import load_settings
from huizhili.errors import ConfigurationError
from huizhili.sensing.ingest import Message
from huizhili.sensing.pipeline import Library, receive
from huizhili.sensing.rules import load_indicators, load_scenarios
from huizhili.sensing.webhooks import deliver_pending, signature
from huizhili.storage.engine import transaction
from huizhili.storage.models import WebhookCursor

SECRET = "a-webhook-secret-of-the-district"
RULES = Library(tuple(load_scenarios()), tuple(load_indicators()))


@pytest.fixture
def receiver():
    """An HTTP server that refuses its first two deliveries (503), then takes them; yields (url, what it took)."""
    taken, refusals = [], [2]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if refusals[0]:
                refusals[0] -= 1
                self.send_response(503)
            else:
                taken.append((dict(self.headers), body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", taken
    server.shutdown()
    server.server_close()


def test_alert_events_are_delivered_signed_and_in_order_after_the_receiver_recovers(xuhui, devices, receiver):
    url, taken = receiver
    with httpx.Client() as client:
        with transaction(xuhui) as session:
            assert deliver_pending(session, client, url, SECRET) == (0, None), "a first run starts at the present"
        at = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
        for minutes, water in [(0, 20), (2, 30)]:  # the underpass floods: orange, then red
            payload = json.dumps({"ts": (at + timedelta(minutes=minutes)).isoformat(), "metric": "water_level_cm", "value": water})
            with transaction(xuhui) as session:
                receive(session, [Message("mqtt", payload.encode(), topic="huizhili/devices/TP-WATER/level")],
                        at + timedelta(minutes=minutes), LIMITS, RULES)
        outcomes = []
        for _ in range(4):
            with transaction(xuhui) as session:
                outcomes.append(deliver_pending(session, client, url, SECRET))
    assert [o[0] for o in outcomes] == [0, 0, 5, 0], "refused twice, then everything at once, then nothing again"
    assert "503" in outcomes[0][1]
    kinds = [(headers["X-Huizhili-Event"], json.loads(body)["alert"]["rule"]) for headers, body in taken]
    assert kinds == [  # 20 cm: the street's and the district's water depth; 30 cm two minutes on: the underpass itself, then worse
        ("alert.opened", "indicator:underpass_water"), ("alert.opened", "indicator:underpass_water"),
        ("alert.opened", "flooding"), ("alert.escalated", "indicator:underpass_water"), ("alert.escalated", "indicator:underpass_water")]
    for headers, body in taken:
        assert headers["X-Huizhili-Signature"] == signature(SECRET, headers["X-Huizhili-Timestamp"], body)
    first = json.loads(taken[0][1])
    assert (first["alert"]["subject"], first["alert"]["level"]) == ("area:310104003", "orange")
    assert len({headers["X-Huizhili-Delivery"] for headers, _ in taken}) == 5
    with xuhui() as session:
        cursor = session.get(WebhookCursor, "alerts")
    assert (cursor.delivered, cursor.failures, cursor.last_error) == (5, 0, None)


def test_a_webhook_without_its_secret_is_refused_at_start():
    with pytest.raises(ConfigurationError, match="SECRET"):
        load_settings(alert_webhook_url="https://example.org/hook")
