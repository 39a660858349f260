#!/usr/bin/env python3
"""Issue 13, finding 6 on the seed listener (`serve --seed-tcp`): one address takes every slot.

300 seed clients from 127.0.0.2 that never read (4 KiB receive buffers) connect and hold on for the attack; before the
fix they took all 256 seed slots for 30 s. Meanwhile a seed client from 127.0.0.1 connects and reads frames the way the
seed tutorials' client does (8-byte little-endian length + pickle). Prints one JSON line (scripts/hostile/common.py):
hub RSS before / peak / 30 s after, the steady native viewer's fps, how many of the crowd were served and how many
closed, and the seed client's frames per second.

    scripts/hostile/seed-slots.py [--clients 300] [--seconds 30]
"""
import argparse
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Hub  # noqa: E402


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return data


def closed_by_server(sock):
    """True when the server closed (or reset) this connection; a served client has frame bytes waiting, or none yet."""
    try:
        sock.setblocking(False)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def seed_reader(port, seconds):
    """The legitimate seed client from 127.0.0.1: frames read in `seconds` (or the error)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    frames = 0
    started = time.time()
    try:
        sock.connect(("127.0.0.1", port))
        while time.time() - started < seconds:
            header = recv_exact(sock, 8)
            if header is None:
                return {"frames": frames, "error": "closed by the server"}
            (length,) = struct.unpack("<Q", header)
            if recv_exact(sock, length) is None:
                return {"frames": frames, "error": "closed in a frame"}
            frames += 1
    except OSError as e:
        return {"frames": frames, "error": type(e).__name__}
    finally:
        sock.close()
    took = time.time() - started
    return {"frames": frames, "fps": round(frames / took, 1)}


def attack(hub, clients, seconds):
    deadline = time.time() + seconds
    crowd, connect_failed = [], 0
    for _ in range(clients):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind(("127.0.0.2", 0))
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", hub.seed))
            crowd.append(sock)
        except OSError:
            connect_failed += 1
            sock.close()
    time.sleep(1)
    closed = sum(1 for s in crowd if closed_by_server(s))
    reader = seed_reader(hub.seed, max(5, deadline - time.time() - 1))
    while time.time() < deadline:
        time.sleep(0.5)
    still_served = sum(1 for s in crowd if not closed_by_server(s))
    for s in crowd:
        s.close()
    return {"crowd": clients, "crowd_connected": len(crowd), "crowd_connect_failed": connect_failed,
            "crowd_closed_by_hub": closed, "crowd_served_at_end": still_served, "seed_client_from_127.0.0.1": reader}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=30)
    args, extra = parser.parse_known_args()
    with Hub(["--seed-tcp", "127.0.0.1:0"] + extra) as hub:
        if hub.seed is None:
            raise SystemExit("serve printed no seed-format listener line")
        hub.measure(attack=lambda: attack(hub, args.clients, args.seconds), name="seed-slots", attack_seconds=args.seconds)


if __name__ == "__main__":
    main()
