"""Many devices in one process: each its own MQTT 3.1.1 connection with its own broker account, QoS 1.

A bare client over sockets (no paho: a load generator sharing the 2 cores with the broker and the
platform should cost as little as possible). Started by the benchmarks, driven over stdin/stdout
with one JSON document per line:

- it reads ``{"port": …, "devices": [[code, password], …]}`` and connects every device, then
  answers ``{"connected": n, "seconds": …}``;
- each ``{"messages": per device, "rate": messages/s or 0 (as fast as the broker takes them),
  "probes": {"<round>": [device index, …]}, "normal": [low, high], "peak": value}`` publishes
  ``people`` observations round after round, one message per device per round, timed now (Unix
  seconds), and answers with when it started and ended and when each probe (value ``peak``) was
  written to its socket, once the broker has acknowledged every message;
- ``{"quit": true}`` disconnects.
"""

import json
import random
import selectors
import socket
import struct
import sys
import time


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def connect(port: int, code: str, password: str) -> socket.socket:
    """A device's connection, CONNACK received."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = _string("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 3600)
    body += _string(f"bench-{code}") + _string(f"device-{code}") + _string(password)
    sock.sendall(bytes([0x10]) + _length(len(body)) + body)
    ack = b""
    while len(ack) < 4:
        chunk = sock.recv(4 - len(ack))
        if not chunk:
            raise ConnectionError(f"{code}: the broker closed the connection")
        ack += chunk
    if ack[0] != 0x20 or ack[3] != 0:
        raise ConnectionError(f"{code}: CONNACK {ack!r}")
    sock.setblocking(False)
    return sock


def publish(socks: list[socket.socket], codes: list[str], order: dict) -> dict:
    """One publishing run (see the module's docstring)."""
    rng = random.Random(order.get("seed", 1))
    low, high = order.get("normal", [100, 700])
    peak = order.get("peak", 1000)
    probes = {int(r): set(ds) for r, ds in order.get("probes", {}).items()}
    rate = order.get("rate", 0)
    window = order.get("window", 200)
    topics = [f"huizhili/devices/{c}/people".encode() for c in codes]
    selector = selectors.DefaultSelector()
    for index, sock in enumerate(socks):
        selector.register(sock, selectors.EVENT_READ, index)
    acked_bytes = [0] * len(socks)
    sent = [0] * len(socks)
    pid = [0] * len(socks)
    probe_times: dict[str, float] = {}

    def drain(timeout: float) -> None:
        for key, _ in selector.select(timeout):
            try:
                data = key.fileobj.recv(1 << 16)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            acked_bytes[key.data] += len(data)  # only PUBACKs come back, 4 bytes each

    started = time.time()
    for round_ in range(order["messages"]):
        if rate:
            due = started + round_ * len(socks) / rate
            while (wait := due - time.time()) > 0:
                drain(wait)
        drain(0)
        while sum(sent) - sum(acked_bytes) // 4 > window * len(socks):
            drain(0.05)
        chosen = probes.get(round_, ())
        for index, sock in enumerate(socks):
            value = peak if index in chosen else rng.randint(low, high)
            now = time.time()
            payload = b'{"ts":%.6f,"metric":"people","value":%d}' % (now, value)
            pid[index] = pid[index] % 65535 + 1
            topic = topics[index]
            body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", pid[index]) + payload
            packet = b"\x32" + _length(len(body)) + body
            while True:
                try:
                    n = sock.send(packet)
                except BlockingIOError:
                    n = 0
                if n == len(packet):
                    break
                packet = packet[n:]
                drain(0.01)
            sent[index] += 1
            if index in chosen:
                probe_times[codes[index]] = now
    written = time.time()
    while sum(acked_bytes) // 4 < sum(sent):
        drain(0.1)
    selector.close()
    return {"sent": sum(sent), "started": started, "written": written, "acked": time.time(), "probes": probe_times}


def main() -> None:
    setup = json.loads(sys.stdin.readline())
    started = time.time()
    codes = [code for code, _ in setup["devices"]]
    socks = [connect(setup["port"], code, password) for code, password in setup["devices"]]
    print(json.dumps({"connected": len(socks), "seconds": time.time() - started}), flush=True)
    for line in sys.stdin:
        order = json.loads(line)
        if order.get("quit"):
            break
        print(json.dumps(publish(socks, codes, order)), flush=True)
    for sock in socks:
        sock.setblocking(True)
        sock.sendall(b"\xe0\x00")
        sock.close()


if __name__ == "__main__":
    main()
