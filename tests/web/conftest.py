"""Fixtures of the web tests that need a real socket: the app under uvicorn on a free port."""

import socket
import threading
import time

import pytest
import uvicorn

from huizhili.web.app import server_options


@pytest.fixture
def serve():
    """Start an app under uvicorn on 127.0.0.1 and a free port: ``serve(app, settings)`` → ``host:port``.

    Every server started is stopped when the test ends.
    """
    servers = []

    def start(app, settings):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **server_options(settings)))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.02)
        return f"127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)
