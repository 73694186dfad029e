"""The live stream over a real socket: uvicorn serving the app, a WebSocket client watching."""

import json
from contextlib import ExitStack, contextmanager, suppress

import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIWebSocketRoute
from starlette.routing import WebSocketRoute
from waiting import until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from huizhili.base.status import update_status
from huizhili.config import load_settings
from huizhili.events import START
from huizhili.identity.accounts import create_api_key, create_device_account, revoke
from huizhili.policy import scope_for
from huizhili.policy.principal import UNRESTRICTED
from huizhili.storage.engine import transaction
from huizhili.web import stream_hub
from huizhili.web.app import ROUTERS

EVERYTHING = scope_for(UNRESTRICTED)

XUJIAHUI = "310104014"
STREAMED_PATHS = {"/api/stream"}
"""Every WebSocket route, each checked here: they are not in the OpenAPI document the matrix reads."""


@pytest.fixture
def live(tmp_path, serve, role_headers):
    """The app under uvicorn on a free port, polling fast, at most three streams per address."""
    return serve(load_settings(environment="test", data_dir=tmp_path / "var", stream_poll_seconds=0.05,
                               stream_connections_per_address=3))


@contextmanager
def watch(address, headers=None, **subscription):
    """The stream, subscribed: the ``subscribed`` reply has arrived."""
    with connect(f"ws://{address}/api/stream", additional_headers=headers or {}, open_timeout=5) as ws:
        ws.send(json.dumps(subscription))
        reply = json.loads(ws.recv(timeout=5))
        assert reply["type"] == "subscribed", reply
        yield ws


def received_so_far(ws):
    """The messages that have reached ``ws`` already, without waiting for more."""
    with suppress(TimeoutError):
        while True:
            yield json.loads(ws.recv(timeout=0))


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


def accepted(address):
    """Whether the server takes one more stream now (False: it refuses it)."""
    with connect(f"ws://{address}/api/stream", open_timeout=5) as ws:
        with suppress(ConnectionClosed):
            ws.send(json.dumps({}))
        return json.loads(ws.recv(timeout=5))["type"] == "subscribed"


@contextmanager
def transactions(engine):
    """The SQL statements of each transaction begun and committed on ``engine`` meanwhile, one list each."""
    committed, running = [], {}

    def begin(connection):
        running[connection] = []

    def execute(connection, _cursor, statement, *_):
        if connection in running:
            running[connection].append(statement)

    def commit(connection):
        if connection in running:
            committed.append(running.pop(connection))

    def rollback(connection):
        running.pop(connection, None)

    listeners = [("begin", begin), ("before_cursor_execute", execute), ("commit", commit), ("rollback", rollback)]
    for name, listener in listeners:
        sa.event.listen(engine, name, listener)
    try:
        yield committed
    finally:
        for name, listener in listeners:
            sa.event.remove(engine, name, listener)


def statements_per_poll(engine, polls=5):
    """How many statements each of ``polls`` successful polls runs (nothing else uses the database meanwhile).

    The first poll recorded is left out: it may still be settling a watcher that has just joined.
    """
    with transactions(engine) as committed:
        until(lambda: len(committed) >= polls + 1, "the hub stopped polling")
        return [len(statements) for statements in committed[1:polls + 1]]


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
        seen = json.loads(first.recv(timeout=5))["cursor"]
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
        device_key = create_api_key(session, "device-PM-XJH-1", "tests")[1]
    assert refused(address, {"X-API-Key": "not-a-key-at-all"})[1] == 4401
    assert refused(address, {"Authorization": "Basic YWRtaW46YWRtaW4="})[1] == 4401
    assert refused(address, message=json.dumps({"token": "not-a-key-at-all"}))[1] == 4401
    error, code = refused(address, {"X-API-Key": device_key})
    assert (error["status"], code) == (403, 4403)
    for message in ['{"after": -1}', '{"after": 0}', '{"channel": "all"}', "not json", '{"after": "soon"}']:
        error, code = refused(address, message=message)
        assert (error["status"], code) == (400, 4400), message


def test_one_address_holds_only_so_many_streams(live):
    _, address = live
    with ExitStack() as streams:
        for _ in range(3):
            streams.enter_context(watch(address))
        error, code = refused(address)
        assert (error["status"], code) == (429, 4429)
    until(lambda: accepted(address), "closed streams still count against the address")


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


def test_streams_of_one_caller_share_one_read_per_poll(live, role_headers, engine):
    app, address = live
    app.state.settings = app.state.settings.model_copy(update={"stream_connections_per_address": 10})
    callers = [{}, role_headers["street_operator"]]
    with ExitStack() as streams:
        for headers in callers:
            streams.enter_context(watch(address, headers))
        one_each = statements_per_poll(engine)
        for headers in callers * 2:
            streams.enter_context(watch(address, headers))
        three_each = statements_per_poll(engine)
    assert len(set(one_each)) == 1 and one_each[0] > 0, one_each
    assert three_each == one_each, "the database work grew with the sockets, not with the callers"


def test_a_watcher_catching_up_from_far_back_delays_no_one(live, role_headers, xuhui):
    """One event a poll: the laggard needs 101 polls, the live watcher's event comes in the next."""
    app, address = live
    inside, outside = health_centres(address, role_headers["district_admin"])
    app.state.settings = app.state.settings.model_copy(update={"page_size_max": 1})
    app.state.stream_hub.limit = 1
    with transaction(xuhui) as session:
        for n in range(100):
            update_status(session, inside, queue_level=("short", "long")[n % 2], scope=EVERYTHING)
    with watch(address) as live_one, watch(address, after=str(START)) as laggard:
        set_queue(address, role_headers["district_admin"], outside, "medium")
        assert json.loads(live_one.recv(timeout=5))["record_id"] == outside
        arrived = [event["id"] for event in received_so_far(laggard)]
        assert len(arrived) < 50, f"the live watcher waited until the laggard had {len(arrived)} of its 101 events"
        ids = arrived + [json.loads(laggard.recv(timeout=20))["id"] for _ in range(101 - len(arrived))]
    assert ids == sorted(set(ids)) and len(ids) == 101


def test_a_failed_poll_loses_no_event(live, role_headers, monkeypatch):
    _, address = live
    read, state = stream_hub.read_events, {"seen": False, "raised": False}

    def flaky(session, scope, *args, **kwargs):
        """Fail the read right after the first one that found events: mid-poll, one group read."""
        if state["seen"] and not state["raised"]:
            state["raised"] = True
            raise RuntimeError("database is locked")
        page = read(session, scope, *args, **kwargs)
        state["seen"] |= bool(page.events)
        return page

    monkeypatch.setattr(stream_hub, "read_events", flaky)
    inside, _ = health_centres(address, role_headers["district_admin"])
    with watch(address) as public, watch(address, role_headers["street_operator"]) as mine:
        set_queue(address, role_headers["district_admin"], inside, "long")
        received = [json.loads(ws.recv(timeout=5)) for ws in (public, mine)]
        assert [e["record_id"] for e in received] == [inside, inside]
        set_queue(address, role_headers["district_admin"], inside, "none")
        following = [json.loads(ws.recv(timeout=5)) for ws in (public, mine)]
        assert [e["payload"]["properties"]["queue_level"] for e in following] == ["none", "none"], "an event came twice"
    assert state["raised"], "the failure was injected"


def test_streams_close_when_the_database_stops_answering(live, engine, monkeypatch):
    _, address = live
    monkeypatch.setattr(stream_hub, "MAX_FAILED_POLLS", 3)

    def not_answering(_connection, _cursor, statement, parameters, *_):
        raise sa.exc.OperationalError(statement, parameters, ConnectionRefusedError("the database stopped answering"))

    with watch(address) as ws:
        sa.event.listen(engine, "before_cursor_execute", not_answering)
        try:
            error, code = ending(ws)
        finally:
            sa.event.remove(engine, "before_cursor_execute", not_answering)
    assert (error["status"], code) == (503, 4503)


def test_every_websocket_route_is_checked_here(live):
    app, _ = live
    websockets = APIWebSocketRoute | WebSocketRoute
    mounted = {f"/api{route.path}" for router in ROUTERS for route in router.routes if isinstance(route, websockets)}
    direct = {route.path for route in app.routes if isinstance(route, websockets)}
    assert mounted | direct == STREAMED_PATHS
