"""Polls GET /api/stats once a second for scripts/bench-mjpeg --browser and keeps what the watch page reported.

The watch page sends `{"type":"stats",...}` over its WebSocket; the server shows it under `page` for that client in
/api/stats (docs/HTTP.md, "Watch: GET /rooms/{room}/ws"). After WARMUP seconds, polls for DURATION seconds and prints
one JSON line: every poll's `page` object (the first client that has one), and how many polls found none.
Standard library only.

usage: bench-mjpeg-page.py HOST PORT WARMUP DURATION
"""
import json
import sys
import time
import urllib.request

host, port, warmup, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
url = f"http://{host}:{port}/api/stats"
t0 = time.monotonic()
time.sleep(warmup)
samples, missing, errors, pages_seen = [], 0, [], 0
tick = time.monotonic()
while tick < t0 + warmup + duration:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            stats = json.load(r)
        pages = [c for c in stats.get("clients", []) if isinstance(c.get("page"), dict)]
        pages_seen = max(pages_seen, len(pages))
        if pages:
            samples.append(dict(pages[0]["page"], t=round(time.monotonic() - t0, 1), kind=pages[0].get("kind"),
                                serverFps=pages[0].get("fps"), serverDropped=pages[0].get("framesDropped")))
        else:
            missing += 1
    except Exception as e:  # a slow or failed poll is reported, not fatal
        errors.append(f"{type(e).__name__}: {e}")
    tick += 1
    time.sleep(max(0, tick - time.monotonic()))
print(json.dumps({"samples": samples, "missing": missing, "errors": errors[:5], "error_count": len(errors),
                  "pages": pages_seen}))
