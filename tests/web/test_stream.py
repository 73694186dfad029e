"""The live stream over a real socket: uvicorn serving the app, a WebSocket client watching."""

import json
import time
from contextlib import ExitStack, contextmanager, suppress

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute
from starlette.routing import WebSocketRoute
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from huizhili.base.status import update_status
from huizhili.config import load_settings
from huizhili.identity.accounts import create_api_key, create_device_account, revoke
from huizhili.storage.engine import transaction
from huizhili.web import stream_hub
from huizhili.web.app import ROUTERS, create_app

XUJIAHUI = "310104014"
STREAMED_PATHS = {"/api/stream"}
"""Every WebSocket route, each checked here: they are not in the OpenAPI document the matrix reads."""


@pytest.fixture
def live(tmp_path, engine, role_headers, serve):
    """The app under uvicorn on a free port, polling fast, at most three streams per address."""
    settings = load_settings(environment="test", data_dir=tmp_path / "var", stream_poll_seconds=0.05,
                             stream_connections_per_address=3)
    app = create_app(settings, engine)
    return app, serve(app, settings)


@contextmanager
def watch(address, headers=None, **subscription):
    """The stream, subscribed: the ``subscribed`` reply has arrived."""
    with connect(f"ws://{address}/api/stream", additional_headers=headers or {}, open_timeout=5) as ws:
        ws.send(json.dumps(subscription))
        reply = json.loads(ws.recv(timeout=5))
        assert reply["type"] == "subscribed", reply
        yield ws


def ending(ws):
    """The error message a stream ends with, and the close code that follows it."""
    error = json.loads(ws.recv(timeout=5))
    assert error["type"] == "error", error
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    return error, closed.value.rcvd.code


def refused(address, headers=None, message=None):
    """The error message and close code of a stream the server refuses."""
    with connect(f"ws://{address}/api/stream", additional_headers=headers or {}, open_timeout=5) as ws:
        with suppress(ConnectionClosed):  # refused before the subscription: the send may find it closed
            ws.send(json.dumps({}) if message is None else message)
        return ending(ws)


def health_centres(address, headers):
    centres = httpx.get(f"http://{address}/api/facilities", params={"kind": "health_centre"}, headers=headers).json()["features"]
    return (next(f["id"] for f in centres if f["properties"]["street_code"] == XUJIAHUI),
            next(f["id"] for f in centres if f["properties"]["street_code"] != XUJIAHUI))


def set_queue(address, headers, facility, level):
    response = httpx.patch(f"http://{address}/api/facilities/{facility}/status", json={"queue_level": level}, headers=headers)
    assert response.status_code == 200, response.text


def test_a_street_operator_watches_her_street_and_nothing_else(live, role_headers):
    _, address = live
    admin = role_headers["district_admin"]
    inside, outside = health_centres(address, admin)
    with watch(address, role_headers["street_operator"]) as mine, watch(address) as public:
        set_queue(address, admin, outside, "long")
        set_queue(address, admin, inside, "short")
        event = json.loads(mine.recv(timeout=5))
        assert (event["type"], event["record_id"], event["street_code"]) == ("event", inside, XUJIAHUI)
        assert event["payload"]["properties"]["queue_level"] == "short"
        assert [json.loads(public.recv(timeout=5))["record_id"] for _ in range(2)] == [outside, inside]


def test_a_watcher_resumes_after_the_last_event_it_saw(live, role_headers):
    _, address = live
    admin = role_headers["district_admin"]
    inside, outside = health_centres(address, admin)
    with watch(address) as first:
        set_queue(address, admin, inside, "short")
        seen = json.loads(first.recv(timeout=5))["id"]
    set_queue(address, admin, outside, "medium")
    set_queue(address, admin, inside, "long")
    with watch(address, after=seen) as again:
        backlog = [json.loads(again.recv(timeout=5)) for _ in range(2)]
    assert [e["payload"]["properties"]["queue_level"] for e in backlog] == ["medium", "long"]


def test_a_browser_signs_in_with_the_first_message(live, role_headers):
    _, address = live
    key = role_headers["street_operator"]["X-API-Key"]
    with watch(address, token=key) as ws:
        set_queue(address, role_headers["district_admin"], health_centres(address, role_headers["district_admin"])[0], "none")
        assert json.loads(ws.recv(timeout=5))["street_code"] == XUJIAHUI


def test_a_revoked_key_ends_the_stream_at_the_next_poll(live, role_headers, xuhui):
    _, address = live
    key = role_headers["district_commander"]["X-API-Key"]
    with watch(address, role_headers["district_commander"]) as ws:
        with transaction(xuhui) as session:
            revoke(session, key)
        error, code = ending(ws)
    assert (error["status"], code) == (401, 4401)


def test_bad_credentials_roles_and_subscriptions_are_refused_with_their_codes(live, xuhui):
    _, address = live
    with transaction(xuhui) as session:
        create_device_account(session, "PM-XJH-1")
        device_key = create_api_key(session, "device-PM-XJH-1", "tests")
    assert refused(address, {"X-API-Key": "not-a-key-at-all"})[1] == 4401
    assert refused(address, {"Authorization": "Basic YWRtaW46YWRtaW4="})[1] == 4401
    assert refused(address, message=json.dumps({"token": "not-a-key-at-all"}))[1] == 4401
    error, code = refused(address, {"X-API-Key": device_key})
    assert (error["status"], code) == (403, 4403)
    for message in ['{"after": -1}', '{"channel": "all"}', "not json", '{"after": "soon"}']:
        error, code = refused(address, message=message)
        assert (error["status"], code) == (400, 4400), message


def test_one_address_holds_only_so_many_streams(live):
    _, address = live
    with ExitStack() as streams:
        for _ in range(3):
            streams.enter_context(watch(address))
        error, code = refused(address)
        assert (error["status"], code) == (429, 4429)
    time.sleep(0.2)
    with watch(address):
        pass


def test_a_client_talking_on_the_one_way_stream_is_closed_not_polled(live):
    _, address = live
    with watch(address) as ws:
        ws.send(json.dumps({"after": 0}))
        error, code = ending(ws)
    assert (error["status"], code) == (400, 4400)


def test_the_server_holds_only_so_many_streams_in_all(live):
    app, address = live
    app.state.settings = app.state.settings.model_copy(update={"stream_connections_max": 2})
    with watch(address), watch(address):
        error, code = refused(address)
        assert (error["status"], code) == (429, 4429) and "server" in error["detail"]


def test_streams_of_one_caller_share_one_read_per_poll(live, role_headers, monkeypatch):
    app, address = live
    app.state.settings = app.state.settings.model_copy(update={"stream_connections_per_address": 10})
    reads, polls = [], []
    read, poll = stream_hub.read_events, stream_hub.StreamHub._poll
    monkeypatch.setattr(stream_hub, "read_events", lambda session, scope, *args: reads.append(scope.principal.role) or read(session, scope, *args))
    monkeypatch.setattr(stream_hub.StreamHub, "_poll", lambda hub, watchers: polls.append(len(watchers)) or poll(hub, watchers))
    with ExitStack() as streams:
        for headers in [{}] * 3 + [role_headers["street_operator"]] * 3:
            streams.enter_context(watch(address, headers))
        time.sleep(0.2)
        reads.clear(), polls.clear()
        time.sleep(0.6)
        counted_reads, counted_polls = list(reads), list(polls)
    assert len(counted_polls) >= 5 and set(counted_polls) == {6}
    assert sorted(set(counted_reads)) == ["anonymous", "street_operator"]
    assert len(counted_reads) <= 2 * len(counted_polls) + 2, "one read per distinct caller and poll, not per socket"


def test_a_watcher_catching_up_from_far_back_delays_no_one(live, role_headers, xuhui):
    app, address = live
    inside, outside = health_centres(address, role_headers["district_admin"])
    app.state.settings = app.state.settings.model_copy(update={"page_size_max": 2})
    app.state.stream_hub.limit = 2
    with transaction(xuhui) as session:
        for n in range(100):
            update_status(session, inside, queue_level=("short", "long")[n % 2])
    with watch(address) as live_one, watch(address, after=0) as laggard:
        set_queue(address, role_headers["district_admin"], outside, "medium")
        started = time.perf_counter()
        assert json.loads(live_one.recv(timeout=5))["record_id"] == outside
        assert time.perf_counter() - started < 1.0, "the live watcher waited for the laggard"
        ids = [json.loads(laggard.recv(timeout=10))["id"] for _ in range(101)]
    assert ids == sorted(set(ids)) and len(ids) == 101


def test_a_failed_poll_loses_no_event(live, role_headers, monkeypatch):
    _, address = live
    read, state = stream_hub.read_events, {"seen": False, "raised": False}

    def flaky(session, scope, *args):
        """Fail the read right after the first one that found events: mid-poll, one group read."""
        if state["seen"] and not state["raised"]:
            state["raised"] = True
            raise RuntimeError("database is locked")
        page = read(session, scope, *args)
        state["seen"] |= bool(page.events)
        return page

    monkeypatch.setattr(stream_hub, "read_events", flaky)
    inside, _ = health_centres(address, role_headers["district_admin"])
    with watch(address) as public, watch(address, role_headers["street_operator"]) as mine:
        set_queue(address, role_headers["district_admin"], inside, "long")
        received = [json.loads(ws.recv(timeout=5)) for ws in (public, mine)]
        assert [e["record_id"] for e in received] == [inside, inside]
        with pytest.raises(TimeoutError):
            public.recv(timeout=0.3)
    assert state["raised"], "the failure was injected"


def test_streams_close_when_the_database_stops_answering(live, monkeypatch):
    _, address = live
    monkeypatch.setattr(stream_hub, "MAX_FAILED_POLLS", 3)
    with watch(address) as ws:
        monkeypatch.setattr(stream_hub, "read_events", lambda *args: (_ for _ in ()).throw(RuntimeError("database is locked")))
        error, code = ending(ws)
    assert (error["status"], code) == (503, 4503)


def test_every_websocket_route_is_checked_here(live):
    app, _ = live
    websockets = APIWebSocketRoute | WebSocketRoute
    mounted = {f"/api{route.path}" for router in ROUTERS for route in router.routes if isinstance(route, websockets)}
    direct = {route.path for route in app.routes if isinstance(route, websockets)}
    assert mounted | direct == STREAMED_PATHS
