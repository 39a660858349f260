"""Shared harness for the hostile-peer benchmarks (issue 13): starts `socketcam serve` on loopback, samples its RSS,
runs a steady viewer beside an attack, and prints before / peak / 30 s after, plus the viewer's fps.

An attack script does:
    from common import Hub
    with Hub(["--udp", "127.0.0.1:0"]) as hub:
        hub.measure(attack=lambda: my_attack(hub), name="udp-reassembly")

Everything goes to 127.0.0.x only; every attack loop is bounded in count and time.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DLL = os.path.join(ROOT, "src/SocketCam.Cli/bin/Release/net10.0/socketcam.dll")


def build():
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "src/SocketCam.Cli/SocketCam.Cli.csproj"), "-c", "Release",
                    "--nologo", "-v", "q"], check=True, stdout=subprocess.DEVNULL)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


class Hub:
    """`socketcam serve` with the test pattern (640x480@30) on 127.0.0.1 ports chosen by the kernel."""

    def __init__(self, extra_args=(), size="640x480", fps=30):
        self.extra = list(extra_args)
        self.size = size
        self.fps = fps
        self.proc = None
        self.tcp = self.udp = self.http = self.seed = None
        self.out_lines = []

    def __enter__(self):
        build()
        args = ["dotnet", DLL, "serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--source", "pattern",
                "--size", self.size, "--fps", str(self.fps), "--quiet", "--log-level", "warning"] + self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._stderr_lines = []
        threading.Thread(target=self._drain, args=(self.proc.stderr, self._stderr_lines), daemon=True).start()
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("serve exited: " + "".join(self._stderr_lines[-20:]))
            self.out_lines.append(line)
            for name, pattern in (("tcp", r"hub listening on tcp://[\d.]+:(\d+)"), ("udp", r"UDP listening on udp://[\d.]+:(\d+)"),
                                  ("http", r"HTTP listening on http://[\d.]+:(\d+)"), ("seed", r"seed-format listener on tcp://[\d.]+:(\d+)")):
                m = re.search(pattern, line)
                if m:
                    setattr(self, name, int(m.group(1)))
            if "Ctrl+C stops the server" in line:
                break
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.out_lines), daemon=True).start()
        return self

    @staticmethod
    def _drain(stream, lines):
        for line in stream:
            lines.append(line)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @property
    def stderr_lines(self):
        return self._stderr_lines

    def rss(self):
        return rss_mb(self.proc.pid)

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/api/stats", timeout=5) as r:
            return json.load(r)

    def steady_viewer(self, seconds):
        """A legitimate viewer (TCP, room main) for `seconds`; returns its `view --json` result (or the error)."""
        p = subprocess.run(["dotnet", DLL, "view", f"tcp://127.0.0.1:{self.tcp}", "--seconds", str(seconds), "--json",
                            "--no-reconnect"], capture_output=True, text=True, timeout=seconds + 60)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {"error": p.stderr.strip()[-300:]}

    def measure(self, attack, name, attack_seconds=30, after_seconds=30, warmup_seconds=10):
        """Runs `attack()` (which must end by itself within attack_seconds + 10) beside a steady viewer; prints one JSON line.

        "before" is the hub after a warm-up viewer has watched for warmup_seconds and left: a hub that has served somebody
        (code compiled, buffers sized), as "after" (30 s after the attack, its steady viewer gone) is too. Measured 2 s
        after start instead, a control run without any attack already ends 20% above it."""
        time.sleep(2)
        if warmup_seconds > 0:
            self.steady_viewer(warmup_seconds)
            time.sleep(1)
        before = self.rss()
        peak = [before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                if self.proc.poll() is not None:
                    return
                peak[0] = max(peak[0], self.rss())
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        viewer_result = {}
        viewer = threading.Thread(target=lambda: viewer_result.update(self.steady_viewer(attack_seconds)), daemon=True)
        viewer.start()
        started = time.time()
        attack_result = attack()
        viewer.join(attack_seconds + 90)
        attack_took = time.time() - started
        alive_after_attack = self.proc.poll() is None
        time.sleep(after_seconds)
        stop.set()
        sampler.join()
        alive = self.proc.poll() is None
        after = self.rss() if alive else None
        result = {
            "attack": name,
            "rss_mb": {"before": round(before), "peak": round(peak[0]), "after_30s": round(after) if after else None},
            "back_within_20pct": bool(after is not None and after <= before * 1.2),
            "steady_viewer_fps": viewer_result.get("fps"),
            "steady_viewer": {k: viewer_result.get(k) for k in ("frames", "dropped", "error") if k in viewer_result},
            "hub_alive": alive and alive_after_attack,
            "attack_seconds": round(attack_took, 1),
            "attack_result": attack_result,
        }
        try:
            result["stats_after"] = {k: v for k, v in self.stats().items() if k in ("memory", "refusals", "limits")}
        except Exception as e:  # noqa: BLE001 - the hub may be gone; the figures above say so
            result["stats_after"] = str(e)
        print(json.dumps(result), flush=True)
        return result


def parse_opts(defaults, argv=None):
    """`--name N` integer options over `defaults` (a dict); returns (opts, the other arguments)."""
    a = list(sys.argv[1:] if argv is None else argv)
    opts = dict(defaults)
    rest = []
    while a:
        if a[0] in opts and len(a) > 1:
            opts[a[0]] = int(a[1])
            a = a[2:]
        else:
            rest.append(a.pop(0))
    return opts, rest


def bounded(seconds):
    """Deadline helper for attack loops: `for _ in bounded(30): ...` stops after `seconds`."""
    end = time.time() + seconds
    while time.time() < end:
        yield time.time()
