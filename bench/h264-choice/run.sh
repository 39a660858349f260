#!/usr/bin/env bash
# Measure libx264 vs OpenH264 (encoders) and libavcodec vs OpenH264 (decoders) on the same source and bitrates.
# Usage: bench/h264-choice/run.sh [--headline]
#   --headline  only 720p at 2000 kbit/s and 1080p at 4350 kbit/s (to repeat the main numbers and see the noise)
# Work files (sources, streams; ~1.4 GB) go to $OUT (default /tmp/h264-choice), never into the repository.
# Prints markdown tables on stdout. Everything runs under nice -n 10.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/h264-choice}
LIB=/usr/lib/x86_64-linux-gnu
HEADLINE=0
[ "${1:-}" = "--headline" ] && HEADLINE=1
mkdir -p "$OUT"
N="nice -n 10"

# ---- headers: the system's, else $HDR (an unpacked usr/include), else the -dev packages unpacked into $OUT/hdr
has() { [ -f "$1/x264.h" ] && [ -f "$1/wels/codec_api.h" ] && [ -f "$1/x86_64-linux-gnu/libavcodec/avcodec.h" ]; }
INC=
for i in /usr/include ${HDR:-} "$OUT/hdr/usr/include"; do has "$i" && { INC=$i; break; }; done
if [ -z "$INC" ]; then
    mkdir -p "$OUT/deb" && (cd "$OUT/deb" && apt-get download libx264-dev libopenh264-dev libavcodec-dev libavutil-dev >&2 \
        && for f in *.deb; do dpkg-deb -x "$f" "$OUT/hdr"; done)
    INC=$OUT/hdr/usr/include
fi
$N gcc -O2 -Wall -Wno-format-truncation -o "$OUT/choice" "$HERE/choice.c" -I$INC -I$INC/x86_64-linux-gnu \
    $LIB/libx264.so.164 $LIB/libopenh264.so.7 $LIB/libavcodec.so.59 $LIB/libavutil.so.57
C="$N $OUT/choice"

# ---- the source: testsrc2 (moving coloured patterns, text, a counter) averaged with mandelbrot (fine, zooming detail)
src() { # W H
    local f=$OUT/src$2.yuv
    [ -f "$f" ] || $N ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=$1x$2:rate=30" \
        -f lavfi -i "mandelbrot=size=$1x$2:rate=30" -filter_complex "[0][1]blend=all_mode=average" \
        -frames:v 300 -pix_fmt yuv420p -f rawvideo "$f"
    echo "$f"
}
sizes() { # STREAM KBPS -> largest P frame and largest IDR, in units of the per-frame budget (kbit/s / 8 / 30 bytes)
    awk -v b="$2" '{ m[$2] = $1 > m[$2] ? $1 : m[$2] } END { printf "%.1f / %.1f", m[0] / (b * 125 / 30), m[1] / (b * 125 / 30) }' "$1.au"
}
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

quality() { # STREAM W H SRC -> "ssim_all psnr_y"
    # The stream is decoded to raw frames first (passthrough: no frame dropped or repeated), then compared as two
    # rawvideo inputs with identical timestamps. (Comparing the .264 directly, as "-framerate 30 -i x.264", let the
    # filters pair frames off by one after the first two, which gave ~29 dB at any bitrate.)
    local log
    log=$($N ffmpeg -nostdin -loglevel error -i "$1" -fps_mode passthrough -f rawvideo -pix_fmt yuv420p - |
        $N ffmpeg -nostdin -hide_banner -f rawvideo -video_size "$2x$3" -pix_fmt yuv420p -framerate 30 -i - \
        -f rawvideo -video_size "$2x$3" -pix_fmt yuv420p -framerate 30 -i "$4" \
        -filter_complex "[0:v]split[a0][a1];[1:v]split[b0][b1];[a0][b0]ssim=shortest=1;[a1][b1]psnr=shortest=1" \
        -f null - 2>&1)
    echo "$(sed -n 's/.*SSIM Y:\([0-9.]*\).*All:\([0-9.]*\).*/\2/p' <<<"$log") $(sed -n 's/.*PSNR y:\([0-9.]*\).*/\1/p' <<<"$log")"
}

ENCODERS=("x264 t1|x264 veryfast/zerolatency, threads 1|x264 %W %H %K 1"
          "x264 auto|x264 veryfast/zerolatency, threads auto (sliced)|x264 %W %H %K 0"
          "oh264 low|OpenH264 low complexity, 1 thread|oh264 %W %H %K 0 1"
          "oh264 med|OpenH264 medium complexity, 1 thread|oh264 %W %H %K 1 1"
          "oh264 med TL2|OpenH264 medium, 2 temporal layers|oh264 %W %H %K 1 2")
if [ $HEADLINE = 1 ]; then POINTS=("1280 720 2000" "1920 1080 4350"); else
    POINTS=("1280 720 1000" "1280 720 2000" "1280 720 4000" "1920 1080 4350"); fi

echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "x264 build $(sed -n 's/#define X264_BUILD //p' $INC/x264.h), $(sed -n 's/.*g_strCodecVer *= *"\(.*\)".*/\1/p' $INC/wels/codec_ver.h), libavcodec $(readlink -f $LIB/libavcodec.so.59 | sed 's/.*\.so\.//')"
echo
echo "### Encoding (300 frames, 30 fps; ms/frame: CPU = process CPU time in the encode call, wall = elapsed)"
echo
echo "| size | target kbit/s | encoder | actual kbit/s | CPU ms/frame | wall ms/frame | delay (frames) | largest P / IDR (x frame budget) | SSIM (all) | PSNR-Y dB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for p in "${POINTS[@]}"; do
    set -- $p; W=$1 H=$2 K=$3
    S=$(src $W $H)
    for e in "${ENCODERS[@]}"; do
        IFS='|' read -r tag label args <<<"$e"
        args=${args//%W/$W}; args=${args//%H/$H}; args=${args//%K/$K}
        f="$OUT/${tag// /_}_${H}p_${K}.264"
        r=$($C enc $args "$S" "$f")
        [ "$(kv "$r" frames_out)" = 300 ] || echo "WARNING: $label wrote $(kv "$r" frames_out) frames" >&2
        read -r ssim psnr <<<"$(quality "$f" $W $H "$S")"
        echo "| ${H}p | $K | $label | $(kv "$r" kbps) | $(kv "$r" cpu_ms) | $(kv "$r" wall_ms) | $(kv "$r" delay_frames) | $(sizes "$f" $K) | $ssim | $psnr |"
    done
done

echo
echo "### Decoding (the same streams; libavcodec with 2 slice threads and low_delay, OpenH264 DecodeFrameNoDelay)"
echo
echo "| stream | decoder | CPU ms/frame | wall ms/frame | delay (frames) |"
echo "|---|---|---|---|---|"
DEC_POINTS=("1280 720 2000" "1920 1080 4350")
for p in "${DEC_POINTS[@]}"; do
    set -- $p; W=$1 H=$2 K=$3
    for tag in "x264 t1" "x264 auto" "oh264 med" "oh264 med TL2"; do
        f="$OUT/${tag// /_}_${H}p_${K}.264"
        for d in avc oh264; do
            r=$($C dec $d $W $H "$f" -1)
            name=$([ $d = avc ] && echo libavcodec || echo OpenH264)
            echo "| ${H}p $K kbit/s, $tag | $name | $(kv "$r" cpu_ms) | $(kv "$r" wall_ms) | $(kv "$r" delay_frames) |"
        done
    done
done

[ $HEADLINE = 1 ] && exit 0
echo
echo "### One access unit dropped (720p 2000 kbit/s; IDR every 60 frames, so the damage lasts until frame 60)"
echo
echo "| stream | AU dropped | decoder | frames out | calls reporting an error | what it says |"
echo "|---|---|---|---|---|---|"
for t in "x264 t1|4" "oh264 med|4" "oh264 med TL2|4" "oh264 med TL2|5"; do
    IFS='|' read -r tag skip <<<"$t"
    f="$OUT/${tag// /_}_720p_2000.264"
    r=$($C dec avc 1280 720 "$f" $skip)
    echo "| $tag | $skip | libavcodec | $(kv "$r" frames_out) | $(kv "$r" call_errors) (frames flagged corrupt: $(kv "$r" flagged_frames)) | log: $(kv "$r" log_errors) errors, $(kv "$r" log_warnings) warnings, $(kv "$r" gap_logs) debug 'Frame num gap'; first error/warning: $(kv "$r" first_log | tr _ ' ') |"
    r=$($C dec oh264 1280 720 "$f" $skip)
    echo "| $tag | $skip | OpenH264 | $(kv "$r" frames_out) | $(kv "$r" call_errors) | DECODING_STATE bits seen: $(kv "$r" states) |"
done
