"""A real Mosquitto broker for a test, configured only by the files the platform generates."""

import getpass
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from waiting import until

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if shutil.which("/usr/sbin/mosquitto") else None)


def listening(port: int) -> bool:
    """Whether something accepts connections on ``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@contextmanager
def mosquitto(folder: Path, passwd: Path, acl: Path, extra: str = "") -> Iterator[int]:
    """Run Mosquitto on a free port with ``passwd`` and ``acl``; yields the port. Skips where it is not installed."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (Debian package mosquitto; .ci/run installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
        # Run as the test's own user: the generated files are readable by their owner only.
        f"user {getpass.getuser()}\npersistence false\nlog_dest stderr\n{extra}"
    )
    log_path = folder / "mosquitto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stderr=log)
        try:
            until(lambda: listening(port) or process.poll() is not None, "mosquitto did not start listening")
            assert process.poll() is None, log_path.read_text()
            yield port
        finally:
            process.terminate()
            process.wait(timeout=5)
