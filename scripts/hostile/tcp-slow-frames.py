#!/usr/bin/env python3
"""Issue 13, finding 2: slow frames over the native protocol.

100 publishers from 127.0.0.2, each in its own room, each announcing a 16 MiB VIDEO_FRAME, sending all of it but the
last 100 bytes, then one byte every 5 s. Before the fix the hub buffered every one of them (RSS 81 -> 1684 MB), kept all
100 connected and kept the memory after they left. Prints one JSON line (scripts/hostile/common.py): hub RSS before /
peak / 30 s after, the steady viewer's fps, and what happened to the attackers (how far they got, which ERROR they read).

    scripts/hostile/tcp-slow-frames.py [--publishers 100] [--seconds 30] [--rounds 1]

With --rounds 2 or more the same hub is attacked again after each 30 s pause (one JSON line per round, each round's
"before" is the previous round's "after"): memory the attack kept would show up as growth from round to round.
"""
import argparse
import collections
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Hub  # noqa: E402

FRAME_BYTES = 16 * 1024 * 1024
ERROR_NAMES = {1: "bad-magic", 2: "unsupported-version", 3: "malformed", 4: "too-large", 5: "unauthorized",
               6: "handshake-timeout", 7: "room-busy", 8: "bad-frame", 9: "server-shutdown", 10: "idle-timeout",
               11: "too-many-clients", 12: "throttled", 13: "too-slow", 14: "over-budget"}


def preface():
    return b"SCAM" + struct.pack(">HH", 1, 0)


def message(kind, payload):
    return struct.pack(">BBHI", kind, 0, 0, len(payload)) + payload


def hello(role, room, token=b"", agent=b"hostile tcp-slow-frames"):
    return message(0x01, bytes([role, len(room)]) + room + bytes([len(token)]) + token + bytes([len(agent)]) + agent)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_message(sock):
    """(type, payload) of the hub's next message, or None when it closed."""
    header = recv_exact(sock, 8)
    if header is None:
        return None
    kind, _, _, length = struct.unpack(">BBHI", header)
    payload = recv_exact(sock, length)
    return None if payload is None else (kind, payload)


def error_of(payload):
    code, length = struct.unpack(">HH", payload[:4])
    return ERROR_NAMES.get(code, f"error-{code}"), payload[4:4 + length].decode("utf-8", "replace")


def publisher(port, index, deadline, body, result, source="127.0.0.2"):
    outcome = {"sent": 0}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(preface() + hello(1, f"slow{index}".encode()))
        if recv_exact(sock, 8) is None:
            outcome["end"] = "closed before preface"
            return
        first = read_message(sock)
        if first is None or first[0] != 0x02:
            outcome["end"] = "refused at handshake: %s: %s" % error_of(first[1]) if first and first[0] == 0x30 else "no WELCOME"
            return
        # VIDEO_FRAME announcing 16 MiB of JPEG 4096x4096; everything but the last 100 bytes, then a byte every 5 s.
        frame_header = struct.pack(">BBHHHqq", 1, 0, 4096, 4096, 0, index, 0)
        head = struct.pack(">BBHI", 0x10, 0, 0, 24 + FRAME_BYTES) + frame_header
        sock.sendall(head)
        view = memoryview(body)[:FRAME_BYTES - 100]
        sock.settimeout(2)
        while view and time.time() < deadline:
            try:
                n = sock.send(view)
            except socket.timeout:
                continue  # the hub stopped reading (back-pressure): keep trying until the deadline
            outcome["sent"] += n
            view = view[n:]
        next_byte = time.time()
        while time.time() < deadline and not view:
            if time.time() >= next_byte:
                sock.send(b"\0")
                outcome["sent"] += 1
                next_byte += 5
            time.sleep(0.2)
        outcome["end"] = "still connected at the deadline"
    except (ConnectionError, OSError) as e:
        outcome["end"] = "connection ended: " + type(e).__name__
    finally:
        # Whatever ERROR the hub sent before closing is still in our receive buffer.
        try:
            sock.settimeout(1)
            while True:
                m = read_message(sock)
                if m is None:
                    break
                if m[0] == 0x30:
                    outcome["error"] = "%s: %s" % error_of(m[1])
                    break
        except OSError:
            pass
        sock.close()
        result[index] = outcome


def attack(hub, publishers, seconds):
    body = bytes(FRAME_BYTES)
    result = {}
    deadline = time.time() + seconds
    threads = [threading.Thread(target=publisher, args=(hub.tcp, i, deadline, body, result), daemon=True) for i in range(publishers)]
    for t in threads:
        t.start()
    peak_in_flight = 0
    while any(t.is_alive() for t in threads) and time.time() < deadline + 15:
        time.sleep(1)
        try:
            limits = hub.stats().get("limits", {})
            peak_in_flight = max(peak_in_flight, int(limits.get("frames_in_flight_bytes", 0)))
        except Exception:  # noqa: BLE001 - older builds have no such figure
            pass
    for t in threads:
        t.join(5)
    errors = collections.Counter(o.get("error", "").split(":")[0] or "none" for o in result.values())
    ends = collections.Counter(o.get("end", "?") for o in result.values())
    sent = sorted(o["sent"] for o in result.values())
    return {"publishers": publishers, "errors": dict(errors), "ends": dict(ends),
            "sent_mb_median": round(sent[len(sent) // 2] / 2**20, 1) if sent else 0,
            "sent_mb_max": round(sent[-1] / 2**20, 1) if sent else 0,
            "example_error": next((o["error"] for o in result.values() if "error" in o), None)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishers", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1)
    args, extra = parser.parse_known_args()
    with Hub(extra) as hub:
        for round_ in range(args.rounds):
            name = "tcp-slow-frames" if args.rounds == 1 else f"tcp-slow-frames round {round_ + 1}"
            hub.measure(attack=lambda: attack(hub, args.publishers, args.seconds), name=name, attack_seconds=args.seconds)


if __name__ == "__main__":
    main()
