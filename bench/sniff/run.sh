#!/usr/bin/env bash
# Does `socketcam sniff` keep up? (issue 20's measure; docs/SNIFF.md "Performance")
# Runs sniff on loopback (no --port: every session told by its content) while `socketcam bench` streams
#   1. 1280x720 JPEG at 30 fps to one viewer, and
#   2. raw 1920x1080 BGR unpaced (as fast as loopback carries it: ~6 MB a frame),
#   3. raw 1920x1080 at 30 fps (187 MB/s) with sniff writing every frame to a pcap file (--pcap, on the temp dir's disk),
# then prints what the bench moved and what sniff saw of it: frames, its CPU (share of one core), and the kernel's
# PACKET_STATISTICS (frames queued to sniff's socket, and dropped because it did not read them in time).
# Needs root (or CAP_NET_RAW) and a Release build: dotnet build -c Release.
set -euo pipefail
cd "$(dirname "$0")/../.."
sc=(dotnet src/SocketCam.Cli/bin/Release/net10.0/socketcam.dll)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

measure() {
  local label=$1 pcap=$2; shift 2
  "${sc[@]}" sniff -i lo --json --interval 1 ${pcap:+--pcap "$pcap"} > "$out/sniff.json" 2> "$out/sniff.err" &
  local pid=$!
  sleep 2 # the socket is open and reading
  "${sc[@]}" bench "$@" --json > "$out/bench.json" 2> /dev/null
  sleep 0.5
  kill -TERM "$pid" # (a background job of a script ignores SIGINT)
  wait "$pid"
  if [ -n "$pcap" ]; then tail -n 1 "$out/sniff.err"; rm -f "$pcap"; fi
  python3 - "$label" "$out/bench.json" "$out/sniff.json" <<'PY'
import json, sys
label, bench_path, sniff_path = sys.argv[1:]
bench = json.loads([l for l in open(bench_path) if l.startswith('{')][-1])
sniff = json.loads([l for l in open(sniff_path) if l.startswith('{')][-1])
frames = sum(t['frames'] for s in sniff['sessions'] for t in s['tracks'] if t['direction'] == 'from_server' and t['kind'] == 'video')
bytes_ = sum(s['bytes_from_server'] for s in sniff['sessions'])
print(f"{label}: bench {bench.get('fps', '?')} fps; sniff saw {len(sniff['sessions'])} session(s), {frames} video frames, "
      f"{bytes_ / 1e6:.0f} MB in {sniff['seconds']:.1f} s; CPU {sniff['cpu_seconds']:.2f} s ({sniff['cpu_pct']:.0f}% of a core over its run); "
      f"kernel: {sniff['kernel_packets']} queued, {sniff['kernel_drops']} dropped")
PY
}

measure "1280x720 JPEG @30" "" --size 1280x720 --fps 30 --frames 600
measure "raw 1920x1080 unpaced" "" --codec raw --size 1920x1080 --fps 0 --frames 600
measure "raw 1920x1080 @30, --pcap" "$out/capture.pcap" --codec raw --size 1920x1080 --fps 30 --frames 300
