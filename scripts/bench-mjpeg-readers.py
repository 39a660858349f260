"""N MJPEG-over-HTTP readers in one process (epoll), for scripts/bench-mjpeg.

Each reader sends `GET PATH`, then counts parts by the boundary that ends each of them ("\r\n--BOUNDARY\r\n"),
for a warm-up and then DURATION seconds. Prints one JSON line: fps of every reader over the measured window.
Standard library only (run with /usr/bin/python3 or any python3).
"""
import json
import selectors
import socket
import sys
import time

host, port, path, clients, warmup, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
boundary = b"\r\n--socketcamframe\r\n"
keep = len(boundary) - 1

sel = selectors.DefaultSelector()
state = []
for i in range(clients):
    s = socket.create_connection((host, port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    s.setblocking(False)
    st = {"frames": 0, "tail": b"", "start": 0, "bytes": 0}
    state.append(st)
    sel.register(s, selectors.EVENT_READ, st)

t0 = time.monotonic()
measuring = False
end = t0 + warmup + duration
while True:
    now = time.monotonic()
    if not measuring and now >= t0 + warmup:
        measuring = True
        for st in state:
            st["start"] = st["frames"]
            st["bytes_start"] = st["bytes"]
        tm = now
    if now >= end:
        break
    for key, _ in sel.select(timeout=0.2):
        st = key.data
        try:
            data = key.fileobj.recv(1 << 20)
        except BlockingIOError:
            continue
        if not data:
            sel.unregister(key.fileobj)
            continue
        st["bytes"] += len(data)
        chunk = st["tail"] + data
        st["frames"] += chunk.count(boundary)
        st["tail"] = chunk[-keep:]
elapsed = time.monotonic() - tm
fps = sorted((st["frames"] - st["start"]) / elapsed for st in state)
print(json.dumps({"clients": clients, "seconds": round(elapsed, 1), "fps": [round(f, 1) for f in fps],
                  "mbytes": round(sum(st["bytes"] - st["bytes_start"] for st in state) / 1e6, 1)}))
