"""What the HTTP benchmarks share: the platform's command line, and the platform served on a free port."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "huizhili"]
"""``huizhili`` as this interpreter runs it."""


def bench_env(data_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of an embedded platform in ``data_dir``, with ``HUIZHILI_<NAME>`` settings."""
    env = {**os.environ, "HUIZHILI_DATA_DIR": str(data_dir), **{f"HUIZHILI_{k.upper()}": str(v) for k, v in settings.items()}}
    env.pop("HUIZHILI_DATABASE_URL", None)
    return env


@contextmanager
def served(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """``huizhili serve`` (one process) on a free port; yields it and its URL once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/api/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=10)
