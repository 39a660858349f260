"""N MJPEG-over-HTTP readers and M WebSocket watchers in one process (epoll), for scripts/bench-mjpeg.

Each MJPEG reader sends `GET PATH`, then counts parts by the boundary that ends each of them ("\r\n--BOUNDARY\r\n"),
for a warm-up and then DURATION seconds. Prints one JSON line: fps of every reader over the measured window.

With WS_PATH and WS_CLIENTS, also WS_CLIENTS WebSocket watchers (docs/HTTP.md, "Watch: GET /rooms/{room}/ws"): a
minimal RFC 6455 client (handshake with Sec-WebSocket-Key/Accept; server frames parsed incrementally: FIN, opcode,
7/16/64-bit lengths, unmasked; continuation frames; a ping is answered with a masked pong; a close frame ends the client
and is reported). Each binary message is one frame; its 24-byte little-endian header gives the capture time (µs), the
server's send time (µs) and the sequence, so latency = time of receipt of the message's last byte - capture time (same
machine, same clock). Like the watch page, each watcher sends a text `{"type":"ping","t":T}` once a second. The JSON
line then also has "ws": fps of every watcher, latency percentiles and what went wrong (closes, errors).
Standard library only (run with /usr/bin/python3 or any python3).

usage: bench-mjpeg-readers.py HOST PORT PATH CLIENTS WARMUP DURATION [WS_PATH WS_CLIENTS]
"""
import base64
import hashlib
import json
import os
import selectors
import socket
import struct
import sys
import time

host, port, path, clients, warmup, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
ws_path = sys.argv[7] if len(sys.argv) > 7 else None
ws_clients = int(sys.argv[8]) if len(sys.argv) > 8 else 0
boundary = b"\r\n--socketcamframe\r\n"
keep = len(boundary) - 1
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HEADER = struct.Struct("<qqIHH")  # capture µs, send µs, sequence, width, height


def ws_frame(opcode, payload):
    """A client frame: FIN set, masked (RFC 6455 5.3: every client frame is masked)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + struct.pack(">H", n)
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + struct.pack(">Q", n)
    m = int.from_bytes(mask, "little")
    k = (n + 3) // 4
    body = (int.from_bytes(payload.ljust(4 * k, b"\0"), "little") ^ int.from_bytes(mask * k, "little")).to_bytes(4 * k, "little")[:n]
    return head + mask + body


class WsClient:
    """One watcher's parser state. feed() takes whatever recv returned; frames may be split anywhere."""

    def __init__(self, sock, key):
        self.sock = sock
        self.key = key
        self.open = False          # handshake done
        self.done = False          # closed (by either side) or failed
        self.http = b""            # handshake response until "\r\n\r\n"
        self.head = bytearray()    # current frame header
        self.head_need = 2
        self.need = -1             # payload bytes left in the current frame; -1 while reading its header
        self.fin = False
        self.opcode = 0
        self.msg_opcode = 0        # opcode of the message the current data frames belong to
        self.msg = bytearray()     # text message, or the first 24 bytes of a binary one
        self.ctrl = bytearray()    # control frame payload
        self.frames = 0            # binary messages
        self.texts = 0
        self.start = 0
        self.last_seq = None
        self.seq_gaps = 0          # frames the server skipped for this watcher (sequence gaps), measured window
        self.hello = None
        self.signals = []
        self.pings_answered = 0
        self.close = None          # (code, reason, by) once closed
        self.error = None
        self.bytes = 0
        self.bytes_start = 0

    def send(self, data):
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, OSError) as e:
            sent = 0
            if not isinstance(e, BlockingIOError):
                self.fail(f"send: {e}")
                return
        if sent != len(data):  # small frames into an all but empty send buffer: not expected to happen
            self.fail(f"send: only {sent} of {len(data)} bytes")

    def fail(self, why):
        if not self.done:
            self.error = why
            self.done = True

    def feed(self, mv, now_us, measuring, lat):
        self.bytes += len(mv)
        if not self.open:
            self.http += bytes(mv)
            end = self.http.find(b"\r\n\r\n")
            if end < 0:
                if len(self.http) > 16384:
                    self.fail("handshake: no end of headers in 16 KiB")
                return
            head, rest = self.http[:end].decode("latin-1"), self.http[end + 4:]
            self.http = b""
            lines = head.split("\r\n")
            if not lines[0].startswith("HTTP/1.1 101"):
                self.fail(f"handshake: {lines[0]!r}")
                return
            headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
            want = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
            if headers.get("sec-websocket-accept") != want:
                self.fail(f"handshake: Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}, expected {want!r}")
                return
            self.open = True
            mv = memoryview(rest)
        i, n = 0, len(mv)
        while i < n and not self.done:
            if self.need < 0:
                take = min(n - i, self.head_need - len(self.head))
                self.head += mv[i:i + take]
                i += take
                if len(self.head) < self.head_need:
                    continue
                if self.head_need == 2:
                    b0, b1 = self.head[0], self.head[1]
                    if b1 & 0x80:
                        self.fail("protocol: a masked server frame")
                        return
                    if b0 & 0x70:
                        self.fail(f"protocol: RSV bits set (0x{b0:02x})")
                        return
                    ln = b1 & 0x7F
                    if ln >= 126:
                        self.head_need = 2 + (2 if ln == 126 else 8)
                        continue
                    length = ln
                else:
                    length = int.from_bytes(self.head[2:], "big")
                self.fin = bool(self.head[0] & 0x80)
                self.opcode = self.head[0] & 0x0F
                self.head = bytearray()
                self.head_need = 2
                self.need = length
                if self.opcode >= 8:
                    if length > 125 or not self.fin:
                        self.fail(f"protocol: control frame opcode {self.opcode} of {length} bytes, FIN {self.fin}")
                        return
                    self.ctrl = bytearray()
                elif self.opcode == 0:
                    if self.msg_opcode == 0:
                        self.fail("protocol: continuation frame without a message")
                        return
                elif self.opcode in (1, 2):
                    if self.msg_opcode != 0:
                        self.fail("protocol: new message inside a fragmented one")
                        return
                    self.msg_opcode = self.opcode
                    self.msg = bytearray()
                else:
                    self.fail(f"protocol: reserved opcode {self.opcode}")
                    return
            else:
                take = min(n - i, self.need)
                if self.opcode >= 8:
                    self.ctrl += mv[i:i + take]
                elif self.msg_opcode == 1:
                    self.msg += mv[i:i + take]
                elif len(self.msg) < HEADER.size:
                    self.msg += mv[i:i + min(take, HEADER.size - len(self.msg))]
                i += take
                self.need -= take
            if self.need == 0:
                self.need = -1
                self.frame_done(now_us, measuring, lat)

    def frame_done(self, now_us, measuring, lat):
        op = self.opcode
        if op == 9:
            self.send(ws_frame(0xA, bytes(self.ctrl)))
            self.pings_answered += 1
        elif op == 0xA:
            pass  # unsolicited pong (keep-alive)
        elif op == 8:
            code = int.from_bytes(self.ctrl[:2], "big") if len(self.ctrl) >= 2 else None
            reason = bytes(self.ctrl[2:]).decode("utf-8", "replace")
            self.send(ws_frame(8, bytes(self.ctrl[:2])))
            self.close = (code, reason, "server")
            self.done = True
        elif self.fin:
            if self.msg_opcode == 2:
                self.frames += 1
                if len(self.msg) < HEADER.size:
                    self.fail(f"binary message of {len(self.msg)} bytes: no 24-byte header")
                else:
                    cap, snd, seq, w, h = HEADER.unpack_from(self.msg)
                    if measuring:
                        lat.append((now_us - cap, snd - cap))
                        if self.last_seq is not None:
                            self.seq_gaps += ((seq - self.last_seq) & 0xFFFFFFFF) - 1
                    self.last_seq = seq
            else:
                self.texts += 1
                try:
                    m = json.loads(bytes(self.msg).decode("utf-8"))
                except ValueError:
                    m = {"unparsed": bytes(self.msg[:200]).decode("utf-8", "replace")}
                t = m.get("type") if isinstance(m, dict) else None
                if t == "hello":
                    self.hello = m
                elif t == "signal":
                    self.signals.append(m)
            self.msg_opcode = 0
            self.msg = bytearray()


sel = selectors.DefaultSelector()
state = []
for i in range(clients):
    s = socket.create_connection((host, port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    s.setblocking(False)
    st = {"frames": 0, "tail": b"", "start": 0, "bytes": 0}
    state.append(st)
    sel.register(s, selectors.EVENT_READ, st)

ws = []
for i in range(ws_clients):
    s = socket.create_connection((host, port))
    key = base64.b64encode(os.urandom(16))
    s.sendall(f"GET {ws_path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    s.setblocking(False)
    c = WsClient(s, key)
    ws.append(c)
    sel.register(s, selectors.EVENT_READ, c)

buf = bytearray(1 << 20)
view = memoryview(buf)
lat = []  # (receipt - capture, send - capture) in µs, every WS frame of the measured window
t0 = time.monotonic()
measuring = False
end = t0 + warmup + duration
next_ping = t0 + 1
while True:
    now = time.monotonic()
    if not measuring and now >= t0 + warmup:
        measuring = True
        for st in state:
            st["start"] = st["frames"]
            st["bytes_start"] = st["bytes"]
        for c in ws:
            c.start = c.frames
            c.bytes_start = c.bytes
        tm = now
        cpu0 = time.process_time()
    if now >= end:
        break
    if ws and now >= next_ping:
        next_ping += 1
        for c in ws:
            if c.open and not c.done:
                c.send(ws_frame(1, json.dumps({"type": "ping", "t": round(time.time() * 1000)}).encode()))
    for key, _ in sel.select(timeout=0.2):
        st = key.data
        if isinstance(st, WsClient):
            try:
                got = key.fileobj.recv_into(buf)
            except BlockingIOError:
                continue
            except OSError as e:
                st.fail(f"recv: {e}")
                got = -1
            if got == 0:
                if not st.done:
                    st.fail("connection closed without a close frame")
            elif got > 0:
                st.feed(view[:got], time.time_ns() // 1000, measuring, lat)
            if st.done:
                sel.unregister(key.fileobj)
                key.fileobj.close()
            continue
        try:
            data = key.fileobj.recv(1 << 20)
        except BlockingIOError:
            continue
        except OSError as e:  # reset: reported, the reader stops
            st["error"] = f"{type(e).__name__}: {e}"
            data = b""
        if not data:
            st.setdefault("error", "closed by the server")
            sel.unregister(key.fileobj)
            continue
        st["bytes"] += len(data)
        chunk = st["tail"] + data
        st["frames"] += chunk.count(boundary)
        st["tail"] = chunk[-keep:]
elapsed = time.monotonic() - tm
cpu = time.process_time() - cpu0
fps = sorted((st["frames"] - st["start"]) / elapsed for st in state)
result = {"clients": clients, "seconds": round(elapsed, 1), "fps": [round(f, 1) for f in fps],
          "mbytes": round(sum(st["bytes"] - st["bytes_start"] for st in state) / 1e6, 1)}
ended = sorted({st["error"] for st in state if "error" in st})
if ended:  # only when some MJPEG stream ended early: the JSON of a normal MJPEG-only run is as before
    result["ended"] = {"count": sum(1 for st in state if "error" in st), "why": ended}
if ws_clients:
    def pct(xs, p):
        return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))] / 1000, 1) if xs else None
    total = sorted(a for a, _ in lat)
    server = sorted(b for _, b in lat)
    result["cpu_s"] = round(cpu, 1)  # this process's CPU time over the measured window
    result["ws"] = {
        "clients": ws_clients,
        "fps": sorted(round((c.frames - c.start) / elapsed, 1) for c in ws),
        "mbytes": round(sum(c.bytes - c.bytes_start for c in ws) / 1e6, 1),
        "samples": len(total),
        "latency_ms": {"p50": pct(total, 50), "p99": pct(total, 99), "min": pct(total, 0), "max": pct(total, 100)},
        "server_ms": {"p50": pct(server, 50), "p99": pct(server, 99)},  # send time - capture time, from the header
        "seq_gaps": sum(c.seq_gaps for c in ws),
        "no_hello": sum(1 for c in ws if c.hello is None),
        "pings_answered": sum(c.pings_answered for c in ws),
        "signals": sum(len(c.signals) for c in ws),
        "closed": [{"code": c.close[0], "reason": c.close[1]} for c in ws if c.close],
        "errors": sorted({c.error for c in ws if c.error}),
        "failed": sum(1 for c in ws if c.error),
    }
for c in ws:
    if not c.done:
        c.send(ws_frame(8, struct.pack(">H", 1000)))
print(json.dumps(result))
