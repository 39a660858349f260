// H.264 for the call page (issue 19) with WebCodecs: the camera encoded by a VideoEncoder (constrained baseline, so no
// B-frames; Annex B with SPS/PPS before each IDR, realtime latency mode) into one FRAME per EncodedVideoChunk, and each
// remote H.264 track decoded by a VideoDecoder fed from a keyframe on, drawn on its tile's canvas as it comes out.
// Feature-detected: where WebCodecs or its H.264 is missing the page sends JPEG (call-media.js) and says it cannot show
// the H.264 tracks of others.
import { playing, surface, draw } from './call-media.js';
import { FRAME_FLAGS } from './v2.js';

const KEYFRAME_INTERVAL_S = 2;   // a new subscriber or a lost frame costs at most this long without the hub's request
const ENCODE_QUEUE_MAX = 1;      // frames waiting in the encoder: above this a camera frame is skipped, not queued
const DECODE_QUEUE_MAX = 8;      // frames waiting in a decoder: above this it is behind; start again at a keyframe
const KEYFRAME_ASK_MS = 1000;    // while waiting for a keyframe, ask again this often (the hub coalesces anyway)
const ENCODER_FAILURES = 3;      // encoder errors before the camera falls back to JPEG
const LATENCY_SAMPLES = 600;

/** Constrained baseline (profile 0x42, constraint flags 0xE0) at the lowest level that carries the size and rate. */
export function avcCodec(width, height, fps) {
  const mbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const levels = [[0x1e, 1620, 40500], [0x1f, 3600, 108000], [0x20, 5120, 216000], [0x28, 8192, 245760],
    [0x2a, 8704, 522240], [0x32, 22080, 589824], [0x33, 36864, 983040]];
  const [level] = levels.find(([, frame, second]) => mbs <= frame && mbs * fps <= second) ?? levels[levels.length - 1];
  return `avc1.42e0${level.toString(16).padStart(2, '0')}`;
}

/** About 1.5 Mbit/s at 1280x720 and 30 fps, in proportion to the pixels, less for lower rates. */
export function avcBitrate(width, height, fps) {
  const bits = 1_500_000 * ((width * height) / (1280 * 720)) * Math.max(0.5, Math.min(1.5, fps / 30));
  return Math.round(Math.min(8_000_000, Math.max(150_000, bits)));
}

/**
 * The encoder configuration for a camera of this size and rate, or { config: null, reason } where the browser cannot
 * encode H.264 (no WebCodecs, or no avc1 encoder).
 */
export async function h264EncoderConfig({ width, height, fps }) {
  if (typeof VideoEncoder !== 'function' || typeof VideoFrame !== 'function') return { config: null, reason: 'this browser has no WebCodecs VideoEncoder' };
  const config = {
    codec: avcCodec(width, height, fps), width, height, framerate: fps, bitrate: avcBitrate(width, height, fps),
    latencyMode: 'realtime', avc: { format: 'annexb' },
  };
  try {
    const { supported } = await VideoEncoder.isConfigSupported(config);
    return supported ? { config, reason: '' } : { config: null, reason: `this browser cannot encode ${config.codec} in Annex B` };
  } catch (err) {
    return { config: null, reason: `this browser cannot encode H.264 (${err.message})` };
  }
}

/** Whether this browser can decode H.264 (constrained baseline; the decoders of browsers take the higher profiles too). */
export async function h264CanDecode() {
  if (typeof VideoDecoder !== 'function' || typeof EncodedVideoChunk !== 'function') return false;
  try {
    return (await VideoDecoder.isConfigSupported({ codec: 'avc1.42e01f', optimizeForLatency: true })).supported === true;
  } catch {
    return false;
  }
}

/**
 * Sends one MediaStream's video as H.264 of `config.width` x `config.height` at `config.framerate` through
 * `send(data, w, h, captureUs, keyframe)` (false: it did not go, so the next frame is a keyframe), asking `ready(bytes)`
 * first. A camera frame is skipped, never queued, while the encoder still holds more than one or the socket is full.
 * `failed(reason)` is called once when the encoder keeps failing (the page then sends JPEG).
 */
export class H264Sender {
  constructor(stream, config, { ready, send, captureUs, failed }) {
    Object.assign(this, { stream, config, ready, send, captureUs, failed });
    this.width = config.width;
    this.height = config.height;
    this.fps = config.framerate;
    this.fit = 'cover';
    this.video = playing(stream);
    this.target = surface(this.width, this.height);
    this.captures = new Map(); // chunk timestamp -> capture µs on the hub's clock
    this.wantKey = true;
    this.sinceKey = 0;
    this.lastBytes = 0;
    this.stats = { codec: 'h264', config: config.codec, bitrate: config.bitrate, framesSent: 0, keyframesSent: 0, bytesSent: 0,
      skipped: 0, notSent: 0, keyframeRequests: 0, encodeErrors: 0, lastError: '' };
    this.timer = 0;
    this.next = performance.now();
    this.open();
    this.tick();
  }

  open() {
    const encoder = new VideoEncoder({
      output: (chunk) => this.onChunk(encoder, chunk),
      error: (err) => this.onError(encoder, err),
    });
    encoder.configure(this.config);
    this.encoder = encoder;
    this.captures.clear();
    this.wantKey = true;
  }

  /** A KEYFRAME_REQUEST for this track: the next frame encoded is a keyframe. */
  requestKeyframe() {
    this.stats.keyframeRequests++;
    this.wantKey = true;
  }

  tick() {
    const now = performance.now();
    this.next = Math.max(this.next + 1000 / this.fps, now);
    this.timer = setTimeout(() => this.tick(), this.next - now);
    if (this.video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || !this.video.videoWidth) return;
    const encoder = this.encoder;
    if (encoder?.state !== 'configured' || encoder.encodeQueueSize > ENCODE_QUEUE_MAX || !this.ready(this.lastBytes)) {
      this.stats.skipped++;
      return;
    }
    draw(this.video, this.target, this.fit);
    const captureUs = this.captureUs();
    const timestamp = Math.round(now * 1000); // local and increasing: the encoder's own clock
    const keyFrame = this.wantKey || this.sinceKey >= KEYFRAME_INTERVAL_S * this.fps;
    const frame = new VideoFrame(this.target.canvas, { timestamp });
    try {
      this.captures.set(timestamp, captureUs);
      encoder.encode(frame, { keyFrame });
      if (keyFrame) {
        this.wantKey = false;
        this.sinceKey = 0;
      } else {
        this.sinceKey++;
      }
    } catch (err) {
      this.onError(encoder, err);
    } finally {
      frame.close();
    }
  }

  onChunk(encoder, chunk) {
    const captureUs = this.captures.get(chunk.timestamp);
    this.captures.delete(chunk.timestamp);
    if (encoder !== this.encoder || !this.timer || captureUs === undefined) return;
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    const key = chunk.type === 'key';
    if (key) this.sinceKey = 0;
    this.lastBytes = data.length;
    if (!this.send(data, this.width, this.height, captureUs, key)) {
      // Whoever receives this track now misses a frame the next ones depend on: start again with a keyframe.
      this.stats.notSent++;
      this.wantKey = true;
      return;
    }
    this.stats.framesSent++;
    this.stats.bytesSent += data.length;
    if (key) this.stats.keyframesSent++;
  }

  onError(encoder, err) {
    if (encoder !== this.encoder) return;
    this.stats.encodeErrors++;
    this.stats.lastError = String(err?.message ?? err);
    if (encoder.state !== 'closed') encoder.close();
    this.encoder = null;
    if (!this.timer) return;
    if (this.stats.encodeErrors >= ENCODER_FAILURES) {
      this.stop();
      this.failed?.(`the H.264 encoder failed (${this.stats.lastError})`);
      return;
    }
    setTimeout(() => this.timer && this.open(), 200);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.video.srcObject = null;
    if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
    this.encoder = null;
  }
}

/** The codec string of an Annex B access unit's SPS (profile, constraints, level), or null without one. */
export function spsCodec(data) {
  for (let i = 0; i + 6 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if ((data[i + 3] & 0x1f) === 7) {
        const hex = (b) => b.toString(16).padStart(2, '0');
        return `avc1.${hex(data[i + 4])}${hex(data[i + 5])}${hex(data[i + 6])}`;
      }
      i += 2;
    }
  }
  return null;
}

/**
 * Draws one remote H.264 track on a canvas. The decoder is fed only from a keyframe on; a gap in the track's sequence
 * (a frame this page never got) before a frame that is not a keyframe, a decode error or a decoder that falls behind
 * closes it, asks for a keyframe (`askKeyframe()`) and waits for one. Each decoded picture is drawn as it comes out (the
 * newest wins) and always closed; `drawn({ captureUs })` follows each.
 */
export class H264Drawer {
  constructor(canvas, drawn, askKeyframe) {
    Object.assign(this, { canvas, drawn, askKeyframe });
    this.ctx = canvas.getContext('2d');
    this.decoder = null;
    this.codec = null;
    this.waiting = true;
    this.lastSeq = null;
    this.lastAsk = -Infinity;
    this.nextTimestamp = 0;
    this.captures = new Map(); // chunk timestamp -> capture µs
    this.frames = 0;
    this.stats = { codec: 'h264', framesReceived: 0, framesDecoded: 0, decodeErrors: 0, keyframeRequestsSent: 0, gaps: 0,
      skipped: 0, resets: 0, lastError: '' };
  }

  push(frame) {
    const s = this.stats;
    s.framesReceived++;
    const key = (frame.flags & FRAME_FLAGS.KEYFRAME) !== 0;
    const gap = this.lastSeq !== null && frame.sequence !== this.lastSeq + 1n && (frame.flags & FRAME_FLAGS.DISCONTINUITY) === 0;
    this.lastSeq = frame.sequence;
    if (gap) s.gaps++;
    if (!key && (gap || this.decoder?.decodeQueueSize > DECODE_QUEUE_MAX)) this.reset();
    if (this.waiting && !key) {
      s.skipped++;
      this.ask();
      return;
    }
    const codec = key ? spsCodec(frame.data) ?? this.codec ?? 'avc1.42e01f' : this.codec;
    if (!this.decoder || codec !== this.codec || this.decoder.decodeQueueSize > DECODE_QUEUE_MAX) this.open(codec);
    const timestamp = ++this.nextTimestamp;
    this.captures.set(timestamp, frame.captureUs);
    try {
      this.decoder.decode(new EncodedVideoChunk({ type: key ? 'key' : 'delta', timestamp, data: frame.data }));
      this.waiting = false;
    } catch (err) {
      this.fail(this.decoder, err);
    }
  }

  open(codec) {
    this.closeDecoder();
    const decoder = new VideoDecoder({
      output: (picture) => this.onPicture(decoder, picture),
      error: (err) => this.fail(decoder, err),
    });
    decoder.configure({ codec, optimizeForLatency: true });
    this.decoder = decoder;
    this.codec = codec;
  }

  onPicture(decoder, picture) {
    try {
      const captureUs = this.captures.get(picture.timestamp);
      this.captures.delete(picture.timestamp);
      if (decoder !== this.decoder) return;
      this.stats.framesDecoded++;
      const w = picture.displayWidth;
      const h = picture.displayHeight;
      if (this.canvas.width !== w || this.canvas.height !== h) {
        this.canvas.width = w;
        this.canvas.height = h;
      }
      this.ctx.drawImage(picture, 0, 0, w, h);
      this.frames++;
      if (captureUs !== undefined) this.drawn({ captureUs });
    } finally {
      picture.close();
    }
  }

  fail(decoder, err) {
    if (decoder !== this.decoder) return;
    this.stats.decodeErrors++;
    this.stats.lastError = String(err?.message ?? err);
    this.reset();
  }

  /** Drops the decoder and waits for a keyframe, asking for one. */
  reset() {
    if (this.decoder) this.stats.resets++;
    this.closeDecoder();
    this.waiting = true;
    this.ask();
  }

  ask() {
    const now = performance.now();
    if (now - this.lastAsk < KEYFRAME_ASK_MS) return;
    this.lastAsk = now;
    if (this.askKeyframe()) this.stats.keyframeRequestsSent++;
  }

  closeDecoder() {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
    this.captures.clear();
  }

  close() {
    this.closeDecoder();
    this.waiting = true;
  }
}

/** p50 and p95 of a list of latencies in µs, as ms with one decimal (null without samples). */
export function latencySummary(samples) {
  if (!samples.length) return { p50Ms: null, p95Ms: null, samples: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] / 100) / 10;
  return { p50Ms: at(0.5), p95Ms: at(0.95), samples: sorted.length };
}

export { LATENCY_SAMPLES };
