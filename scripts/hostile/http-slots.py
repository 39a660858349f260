#!/usr/bin/env python3
"""Issue 13 finding 6 (HTTP part): slot hogging. From 127.0.0.2, 1000 MJPEG readers that never read past their status
line and 1000 WebSocket watchers that never read past their first message, all kept open for 30 s; from 127.0.0.1 a real
MJPEG reader and a real WebSocket watcher count the frames they get meanwhile. An attacker told 503 or 4503 closes its
connection (http-slowloris.py is the attack that holds every connection it gets). Prints the harness's JSON line (hub RSS
before / peak / 30 s after, the steady TCP viewer's fps) with, in attack_result, what each attacker got (stream / 503 /
4503 / closed unanswered) and the real clients' fps.

usage: scripts/hostile/http-slots.py [--mjpeg 1000] [--ws 1000] [--seconds 30] [serve args ...]
"""
import base64
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Hub, parse_opts  # noqa: E402

ATTACKER = "127.0.0.2"


def args():
    opts, rest = parse_opts({"--mjpeg": 1000, "--ws": 1000, "--seconds": 30})
    return opts["--mjpeg"], opts["--ws"], opts["--seconds"], rest


def connect(source, port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def read_head(s):
    """Bytes up to the blank line (one at a time, so nothing after it is read); b'' when closed unanswered."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        c = s.recv(1)
        if not c:
            return data
        data += c
    return data


def read_exact(s, n):
    data = b""
    while len(data) < n:
        c = s.recv(n - len(data))
        if not c:
            raise ConnectionError("closed")
        data += c
    return data


def read_ws_message(s):
    """(opcode, payload) of one unfragmented server message (servers do not mask)."""
    b0, b1 = read_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", read_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", read_exact(s, 8))[0]
    return b0 & 0x0F, read_exact(s, n)


def ws_upgrade(s, port, path):
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return read_head(s)


def mjpeg_attacker(port):
    try:
        s = connect(ATTACKER, port, rcvbuf=4096)
        s.sendall(f"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head = read_head(s)
    except OSError:
        return None, "closed unanswered"
    if head.startswith(b"HTTP/1.1 200"):
        return s, "stream"
    if head.startswith(b"HTTP/1.1 503"):
        s.close()  # told to go away, it goes (scripts/hostile/http-slowloris.py is the attack that holds every connection)
        return None, "503"
    s.close()
    return None, "closed unanswered" if not head else head[:12].decode(errors="replace")


def ws_attacker(port):
    try:
        s = connect(ATTACKER, port, rcvbuf=4096)
        head = ws_upgrade(s, port, "/rooms/main/ws")
        if not head.startswith(b"HTTP/1.1 101"):
            s.close()
            return None, "closed unanswered" if not head else head[:12].decode(errors="replace")
        opcode, payload = read_ws_message(s)
    except OSError:
        return None, "closed unanswered"
    if opcode == 1:
        return s, "hello"  # then never reads again
    s.close()
    if opcode == 8 and len(payload) >= 2:
        return None, f"close {struct.unpack('>H', payload[:2])[0]}"
    return None, f"opcode {opcode}"


def real_mjpeg(port, seconds, out):
    frames, started = 0, time.time()
    try:
        s = connect("127.0.0.1", port)
        s.sendall(f"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head = read_head(s)
        out["status"] = head[:12].decode(errors="replace")
        boundary = b"\r\n--socketcamframe\r\n"
        tail = b""
        while time.time() - started < seconds:
            data = s.recv(1 << 20)
            if not data:
                break
            buf = tail + data
            frames += buf.count(boundary)
            tail = buf[-(len(boundary) - 1):]  # a boundary split between reads, never one already counted
        s.close()
    except OSError as e:
        out["error"] = str(e)
    out["frames"] = frames
    out["fps"] = round(frames / max(0.001, time.time() - started), 1)


def real_ws(port, seconds, out):
    frames, started = 0, time.time()
    try:
        s = connect("127.0.0.1", port)
        head = ws_upgrade(s, port, "/rooms/main/ws")
        out["status"] = head[:12].decode(errors="replace")
        while time.time() - started < seconds:
            opcode, payload = read_ws_message(s)
            if opcode == 2:
                frames += 1
            elif opcode == 8:
                out["closed"] = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                out["reason"] = payload[2:].decode(errors="replace")
                break
        s.close()
    except OSError as e:
        out["error"] = str(e)
    out["frames"] = frames
    out["fps"] = round(frames / max(0.001, time.time() - started), 1)


def attack(hub, mjpeg, ws, seconds):
    port = hub.http
    held, outcome_m, outcome_w = [], {}, {}
    started = time.time()
    for _ in range(mjpeg):
        s, what = mjpeg_attacker(port)
        outcome_m[what] = outcome_m.get(what, 0) + 1
        if s:
            held.append(s)
    for _ in range(ws):
        s, what = ws_attacker(port)
        outcome_w[what] = outcome_w.get(what, 0) + 1
        if s:
            held.append(s)
    opened_in = time.time() - started
    # Now the legitimate clients from 127.0.0.1, while every attacker connection is held.
    m, w = {}, {}
    window = max(5, seconds - opened_in)
    threads = [threading.Thread(target=real_mjpeg, args=(port, window, m)), threading.Thread(target=real_ws, args=(port, window, w))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(window + 30)
    for s in held:
        s.close()
    return {"mjpeg_attackers": outcome_m, "ws_attackers": outcome_w, "attackers_opened_in_s": round(opened_in, 1),
            "real_mjpeg": m, "real_ws": w}


def main():
    mjpeg, ws, seconds, rest = args()
    with Hub(rest) as hub:
        hub.measure(attack=lambda: attack(hub, mjpeg, ws, seconds), name="http-slots", attack_seconds=seconds)


if __name__ == "__main__":
    main()
