#!/usr/bin/env python3
"""Issue 13 finding 1: UDP reassembly memory. Many UDP publisher sessions from one address (127.0.0.1), each sending only
the first fragment of frames that claim the largest frame size (16 MiB), a few new frames every 100 ms; beside them a
steady TCP viewer. Prints one JSON line (RSS before / peak / 30 s after, the viewer's fps, the hub's refusals).

    python3 scripts/hostile/udp-reassembly.py [--sessions 60] [--seconds 30] [--frames-per-tick 4] [--spread 1]

--spread N sends N fragments of each frame, 32 indexes apart (one per reassembly chunk of the hub), so the attack
also costs what a hub that stores only what arrived must hold: with N = 12 it wants more than the per-address budget.

Goal: RSS never above 512 MB, back within 20% of the start 30 s after the attack; the viewer keeps ~30 fps.
Everything goes to 127.0.0.1; the attack is bounded in sessions and time.
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Hub, bounded  # noqa: E402

MAGIC = b"SCUV"
HELLO, WELCOME, REFUSE, FRAGMENT, PING = 0x01, 0x02, 0x03, 0x10, 0x20
PAYLOAD = 1148
TOTAL = 16 * 1024 * 1024  # the hub's default frame cap: the largest a header may claim


def prefix(kind, session_id):
    return MAGIC + bytes([1, kind, 0, 0]) + struct.pack(">Q", session_id)


def hello(room, nonce, flags=0):
    body = prefix(HELLO, 0) + struct.pack(">QBB", nonce, flags, 1)  # flags (bit 0: no loss recovery), role publisher
    for text in (room.encode(), b"", b"hostile-udp-reassembly"):
        body += bytes([len(text)]) + text
    return body + bytes(max(0, 256 - len(body)))


def fragment(session_id, frame_id, index=0):
    data_count = (TOTAL + PAYLOAD - 1) // PAYLOAD
    header = prefix(FRAGMENT, session_id) + struct.pack(">IHHBBHHHIqq", frame_id, index, data_count, 0, 1, 640, 480, PAYLOAD, TOTAL,
                                                         frame_id, 0)
    return header + bytes(PAYLOAD)


def open_session(port, room, flags=0):
    """HELLO → WELCOME → PING (activates the session); returns (socket, session id) or None when refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    nonce = random.getrandbits(64)
    for _ in range(10):
        s.sendto(hello(room, nonce, flags), ("127.0.0.1", port))
        try:
            while True:
                data, _ = s.recvfrom(2048)
                if data[:4] == MAGIC and data[5] == WELCOME:
                    session_id = struct.unpack(">Q", data[8:16])[0]
                    s.sendto(prefix(PING, session_id) + struct.pack(">IIq", 1, 0, 0), ("127.0.0.1", port))
                    s.setblocking(False)
                    return s, session_id
                if data[:4] == MAGIC and data[5] == REFUSE:
                    s.close()
                    return None
        except socket.timeout:
            continue
    s.close()
    return None


def attack(port, sessions, seconds, frames_per_tick, spread, flags):
    opened = [open_session(port, f"atk{i}", flags) for i in range(sessions)]
    opened = [o for o in opened if o]
    frame_id = [0] * len(opened)
    sent = 0
    for _ in bounded(seconds):
        tick = time.time()
        for n, (s, session_id) in enumerate(opened):
            for _ in range(frames_per_tick):
                frame_id[n] += 1
                for k in range(spread):
                    try:
                        s.sendto(fragment(session_id, frame_id[n], k * 32), ("127.0.0.1", port))
                        sent += 1
                    except (BlockingIOError, OSError):
                        pass
            try:
                while s.recv(2048):  # NACKs, REPORTs: read and forget so the socket buffer never fills
                    pass
            except (BlockingIOError, OSError):
                pass
        time.sleep(max(0.0, 0.1 - (time.time() - tick)))
    for s, _ in opened:
        s.close()
    return {"sessions": len(opened), "fragments_sent": sent, "fragments_per_frame": spread, "claimed_bytes_per_frame": TOTAL}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--frames-per-tick", type=int, default=4)
    parser.add_argument("--spread", type=int, default=1)
    parser.add_argument("--no-recovery", action="store_true", help="HELLO flag 'no loss recovery': the hub sends no NACKs")
    args = parser.parse_args()
    with Hub(["--udp", "127.0.0.1:0"]) as hub:
        def run():
            result = attack(hub.udp, args.sessions, args.seconds, args.frames_per_tick, args.spread, 1 if args.no_recovery else 0)
            # The hub logs once per session that ran into the reassembly budget (warning 809).
            result["sessions_over_budget"] = sum("reassembly budget spent" in line for line in hub.stderr_lines + hub.out_lines)
            return result

        hub.measure(attack=run,
                    name="udp-reassembly" + (f"-spread{args.spread}" if args.spread > 1 else ""),
                    attack_seconds=args.seconds)


if __name__ == "__main__":
    main()
