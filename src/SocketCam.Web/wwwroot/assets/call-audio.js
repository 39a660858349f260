// Audio for the call page (issue 18): the microphone encoded to Opus with WebCodecs (one FRAME per 20 ms packet), and
// the others' Opus tracks decoded (one AudioDecoder per track) into an AudioWorklet that holds a jitter buffer per track
// and mixes them (audio-playout-worklet.js). Figures for tests and the curious: window.socketcamAudioStats().
import { AUDIO_FLAGS, KIND_AUDIO, SOURCE } from './v2.js';

export const SAMPLE_RATE = 48000;
const PACKET_US = 20000;
const BITRATE = 32000;
const MAX_ENCODE_QUEUE = 10;     // packets waiting in the encoder: beyond, the CPU is behind and input is dropped
const MAX_DECODE_QUEUE = 50;     // 1 s: beyond, the page is far behind and packets are dropped (a gap, concealed)
const SPEAKING_LEVEL = 0.02;     // RMS (about −34 dBFS)
const SPEAKING_HOLD_MS = 600;
const MAX_LATENCIES = 600;       // mouth-to-ear samples per track (~1 min at one per stats message)

function percentileMs(samples, p) {
  if (!samples?.length) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] / 1000;
}

/** Our microphone track as PUBLISHed (§4.5): Opus mono 48 kHz, 20 ms packets, in-band FEC and DTX. */
export const MIC = Object.freeze({
  trackId: 3, kind: KIND_AUDIO, source: SOURCE.MICROPHONE, channels: 1, sampleRate: SAMPLE_RATE, packetUs: PACKET_US,
  bitrate: BITRATE, flags: AUDIO_FLAGS.FEC | AUDIO_FLAGS.DTX, name: 'microphone',
});

const ENCODER_CONFIGS = [
  { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: 1, bitrate: BITRATE, opus: { frameDuration: PACKET_US, useinbandfec: true, usedtx: true } },
  { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: 1, bitrate: BITRATE, opus: { frameDuration: PACKET_US } },
  { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: 1, bitrate: BITRATE },
];

/** The first Opus encoder configuration this browser takes, or null (with why in `reason`). */
export async function encoderConfig() {
  if (typeof AudioEncoder !== 'function') return { config: null, reason: 'this browser has no WebCodecs AudioEncoder' };
  for (const config of ENCODER_CONFIGS) {
    try {
      if ((await AudioEncoder.isConfigSupported(config)).supported) return { config, reason: '' };
    } catch {
      // next one
    }
  }
  return { config: null, reason: 'this browser cannot encode Opus' };
}

export function decoderConfig(channels) {
  return { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: channels || 1 };
}

export async function openMicrophone() {
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 }, video: false,
  });
}

const localUs = () => (performance.timeOrigin + performance.now()) * 1000;

function rmsOf(samples, n = samples.length) {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += samples[i] * samples[i];
  return n ? Math.sqrt(sum / n) : 0;
}

/** 0..1 for a meter: −60..0 dBFS. */
export const meterOf = (rms) => Math.max(0, Math.min(1, (20 * Math.log10(Math.max(rms, 1e-6)) + 60) / 60));

/**
 * The microphone, encoded: AudioData from a MediaStreamTrackProcessor (or 20 ms blocks from an AudioWorklet where there
 * is none) → AudioEncoder (Opus) → `send(packet, samples, captureUs, discontinuity)` per packet. The level (for the
 * meter) is measured on every block, muted or not; while muted, or while `wanted()` is false (not in the call, the
 * track not published yet), nothing is encoded or sent. `captureUs` is the time of
 * the packet's first sample on the hub's clock (`hubOffsetUs()` = hub − local).
 */
export class MicSender {
  constructor(stream, config, { send, hubOffsetUs, wanted = () => true, context = null, capture = 'auto' }) {
    Object.assign(this, { stream, config, send, hubOffsetUs, wanted, context });
    this.track = stream.getAudioTracks()[0];
    this.muted = false;
    this.level = 0;
    this.encoder = null;
    this.discontinuity = false;
    this.stopped = false;
    this.timeBase = null;  // how AudioData timestamps map to local µs: { perf: true } or { anchor } (min of now − ts)
    this.anchors = [];
    this.stats = { packetsSent: 0, bytesSent: 0, packetsNotSent: 0, encoded: 0, inputDropped: 0, encoderErrors: 0 };
    this.mode = typeof MediaStreamTrackProcessor === 'function' && capture !== 'worklet' ? 'track-processor' : 'audio-worklet';
  }

  /** Starts reading the microphone; resolves false where neither capture path is available (no worklet context yet). */
  async start() {
    if (this.mode === 'track-processor') {
      this.reader = new MediaStreamTrackProcessor({ track: this.track }).readable.getReader();
      this.readLoop();
      return true;
    }
    if (!this.context) return false;
    await this.context.audioWorklet.addModule('/assets/audio-playout-worklet.js');
    this.source = this.context.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(this.context, 'socketcam-capture', { numberOfOutputs: 0 });
    this.capture.port.onmessage = (e) => this.onBlock(e.data);
    this.source.connect(this.capture);
    return true;
  }

  async readLoop() {
    const block = new Float32Array(4096);
    while (!this.stopped) {
      let result;
      try {
        result = await this.reader.read();
      } catch {
        break;
      }
      if (result.done) break;
      const data = result.value;
      try {
        const n = Math.min(block.length, data.numberOfFrames);
        data.copyTo(block.subarray(0, n), { planeIndex: 0, frameCount: n, format: 'f32-planar' });
        this.onLevel(rmsOf(block, n), data.duration);
        this.noteTime(data.timestamp);
        this.encode(data);
      } catch {
        this.stats.inputDropped++;
      } finally {
        data.close();
      }
    }
  }

  /** The worklet path: a 20 ms block and the context frame of its first sample. */
  onBlock({ pcm, frame }) {
    this.onLevel(rmsOf(pcm), PACKET_US);
    if (this.muted || this.stopped) return;
    // On the performance clock: now, less how long ago (in the context's time) the block's first sample was.
    const timestamp = Math.round(performance.now() * 1000 - (this.context.currentTime - frame / this.context.sampleRate) * 1e6);
    const data = new AudioData({
      format: 'f32-planar', sampleRate: this.context.sampleRate, numberOfFrames: pcm.length, numberOfChannels: 1, timestamp, data: pcm,
    });
    this.timeBase ??= { perf: true };
    try {
      this.encode(data);
    } finally {
      data.close();
    }
  }

  onLevel(rms, durationUs) {
    // A peak meter with a ~300 ms fall.
    const fall = Math.exp(-(durationUs || 10000) / 300000);
    this.level = Math.max(rms, this.level * fall);
  }

  /** AudioData timestamps are Chromium's performance clock in µs; other browsers: anchored to it (the smallest now − ts). */
  noteTime(timestamp) {
    const delay = performance.now() * 1000 - timestamp;
    if (!this.timeBase) this.timeBase = delay >= -5e6 && delay < 2e6 ? { perf: true } : { perf: false };
    if (this.timeBase.perf) return;
    this.anchors.push(localUs() - timestamp);
    if (this.anchors.length > 50) this.anchors.shift();
    this.timeBase.anchor = Math.min(...this.anchors);
  }

  toHubUs(timestamp) {
    const local = this.timeBase?.perf === false ? timestamp + this.timeBase.anchor : performance.timeOrigin * 1000 + timestamp;
    return Math.round(local + this.hubOffsetUs());
  }

  encode(data) {
    if (this.muted || this.stopped) return;
    if (!this.wanted()) {
      // Not in the call (yet): nothing to encode; the next packet starts afresh.
      if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
      this.encoder = null;
      this.discontinuity = true;
      return;
    }
    if (!this.encoder || this.encoder.state === 'closed') this.openEncoder();
    if (this.encoder.encodeQueueSize > MAX_ENCODE_QUEUE) {
      this.stats.inputDropped++;
      return;
    }
    this.encoder.encode(data);
  }

  openEncoder() {
    this.encoder = new AudioEncoder({
      output: (chunk) => this.onPacket(chunk),
      error: () => {
        this.stats.encoderErrors++;
        this.encoder = null;
        this.discontinuity = true;
      },
    });
    this.encoder.configure(this.config);
  }

  onPacket(chunk) {
    this.stats.encoded++;
    if (this.muted || this.stopped) return;
    const packet = new Uint8Array(chunk.byteLength);
    chunk.copyTo(packet);
    const samples = Math.max(1, Math.round(((chunk.duration || PACKET_US) * SAMPLE_RATE) / 1e6));
    if (this.send(packet, samples, this.toHubUs(chunk.timestamp), this.discontinuity)) {
      this.discontinuity = false;
      this.stats.packetsSent++;
      this.stats.bytesSent += packet.length;
    } else {
      this.stats.packetsNotSent++;
    }
  }

  /** Mute: nothing more is encoded or sent (the encoder is closed: its next packet starts afresh, a discontinuity). */
  setMuted(muted) {
    if (muted === this.muted) return;
    this.muted = muted;
    if (muted) {
      if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
      this.encoder = null;
    } else {
      this.discontinuity = true;
    }
  }

  stop() {
    this.stopped = true;
    this.reader?.cancel().catch(() => {});
    this.source?.disconnect();
    this.capture?.port.close();
    if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
    this.encoder = null;
    this.stream.getTracks().forEach((t) => t.stop());
  }
}

/**
 * One remote Opus track: its AudioDecoder, in order; each decoded frame goes to the playout worklet with the packet's
 * sequence (the worklet finds the gaps) and capture time.
 */
class RemoteAudio {
  constructor(key, track, post) {
    Object.assign(this, { key, post });
    this.channels = track.channels || 1;
    this.pending = [];     // { seq, captureUs, discontinuity } of the packets inside the decoder, in order
    this.transits = [];    // capture → arrival here (µs)
    this.decoder = null;
    this.stats = { packetsReceived: 0, bytesReceived: 0, decoded: 0, decodeErrors: 0, notDecoded: 0 };
    this.scratch = null;
  }

  open() {
    this.pending = [];
    this.decoder = new AudioDecoder({
      output: (data) => this.onDecoded(data),
      error: () => {
        this.stats.decodeErrors++;
        this.decoder = null;
      },
    });
    this.decoder.configure(decoderConfig(this.channels));
  }

  onFrame(frame) {
    this.stats.packetsReceived++;
    this.stats.bytesReceived += frame.data.length;
    if (!this.decoder || this.decoder.state === 'closed') this.open();
    if (this.decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
      this.stats.notDecoded++;
      return;
    }
    const captureUs = Number(frame.captureUs);
    this.pending.push({ seq: Number(frame.sequence), captureUs, discontinuity: (frame.flags & 4) !== 0 });
    this.decoder.decode(new EncodedAudioChunk({
      type: 'key', timestamp: captureUs, duration: Math.round((frame.width * 1e6) / SAMPLE_RATE), data: frame.data,
    }));
  }

  onDecoded(data) {
    const meta = this.pending.shift();
    try {
      if (!meta) return;
      this.stats.decoded++;
      const pcm = new Float32Array(data.numberOfFrames);
      if (data.numberOfChannels === 1 || data.format.endsWith('planar')) {
        data.copyTo(pcm, { planeIndex: 0, format: 'f32-planar' });
      } else {
        const all = new Float32Array(data.numberOfFrames * data.numberOfChannels);
        data.copyTo(all, { planeIndex: 0, format: 'f32' });
        for (let i = 0; i < pcm.length; i++) pcm[i] = all[i * data.numberOfChannels];
      }
      this.post({ type: 'pcm', key: this.key, ...meta, pcm }, [pcm.buffer]);
    } finally {
      data.close();
    }
  }

  close() {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
  }
}

/**
 * Playback of everyone else: one AudioContext at 48 kHz (made on the Join click, a user gesture), one worklet node that
 * mixes every track's jitter buffer, a decoder per track. `stats` holds the worklet's latest figures per track key.
 */
export class AudioPlayout {
  constructor({ hubOffsetUs = () => 0 } = {}) {
    this.hubOffsetUs = hubOffsetUs;
    this.latencies = new Map();   // key -> mouth-to-ear samples (µs)
    this.lastPlayed = new Map();
    this.context = null;
    this.node = null;
    this.ready = null;
    this.remotes = new Map();   // key -> RemoteAudio
    this.muted = new Set();     // keys muted here
    this.figures = {};          // key -> the worklet's figures
    this.speakingUntil = new Map();
    this.waiting = new Map();   // envelope request id -> resolve
    this.nextId = 1;
    this.notReady = 0;
    this.error = '';
  }

  /** Call from a user gesture: creates (or resumes) the context and loads the worklet. */
  start() {
    if (!this.context) {
      try {
        this.context = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: 'interactive' });
      } catch (err) {
        this.error = `no audio output (${err.name})`;
        return Promise.resolve(false);
      }
      this.ready = this.load();
    }
    this.context.resume().catch(() => {});
    return this.ready;
  }

  async load() {
    try {
      await this.context.audioWorklet.addModule('/assets/audio-playout-worklet.js');
      this.node = new AudioWorkletNode(this.context, 'socketcam-playout', { numberOfInputs: 0, outputChannelCount: [1] });
      this.node.port.onmessage = (e) => this.onWorklet(e.data);
      this.node.connect(this.context.destination);
      for (const key of this.muted) this.node.port.postMessage({ type: 'mute', key, muted: true });
      return true;
    } catch (err) {
      this.error = `audio playback is unavailable (${err.message})`;
      return false;
    }
  }

  get running() { return this.context?.state === 'running'; }

  onWorklet(m) {
    if (m.type === 'stats') {
      this.figures = m.tracks;
      const now = performance.now();
      for (const [key, f] of Object.entries(m.tracks)) {
        if (f.level > SPEAKING_LEVEL) this.speakingUntil.set(key, now + SPEAKING_HOLD_MS);
        this.noteLatency(key, f);
      }
    } else if (m.type === 'envelope') {
      this.waiting.get(m.id)?.(m);
      this.waiting.delete(m.id);
    }
  }

  /**
   * Mouth to ear: when the sample the worklet played last (at context frame `playedAtFrame`) leaves the output device
   * (getOutputTimestamp maps context time to the performance clock, output latency included), on the hub's clock,
   * less its capture_us. One sample per track per stats message, the last MAX_LATENCIES kept.
   */
  noteLatency(key, f) {
    if (!f.playedCaptureUs || !f.playedAtFrame || f.playedAtFrame === this.lastPlayed.get(key) || !this.context?.getOutputTimestamp) return;
    this.lastPlayed.set(key, f.playedAtFrame);
    const { contextTime, performanceTime } = this.context.getOutputTimestamp();
    if (!performanceTime) return;
    const outMs = performanceTime + (f.playedAtFrame / this.context.sampleRate - contextTime) * 1000;
    const latencyUs = (performance.timeOrigin + outMs) * 1000 + this.hubOffsetUs() - f.playedCaptureUs;
    let samples = this.latencies.get(key);
    if (!samples) this.latencies.set(key, (samples = []));
    samples.push(latencyUs);
    if (samples.length > MAX_LATENCIES) samples.shift();
  }

  post(message, transfer) {
    this.node?.port.postMessage(message, transfer);
  }

  /** A FRAME of a remote audio track (`track` its record: channels). */
  onFrame(key, track, frame) {
    if (!this.node || typeof AudioDecoder !== 'function') {
      this.notReady++;
      return;
    }
    let remote = this.remotes.get(key);
    if (!remote) this.remotes.set(key, (remote = new RemoteAudio(key, track, (m, t) => this.post(m, t))));
    // Capture to arrival in this page (hub clock), the network's and the sender's share of mouth to ear.
    remote.transits.push(localUs() + this.hubOffsetUs() - Number(frame.captureUs));
    if (remote.transits.length > MAX_LATENCIES) remote.transits.shift();
    remote.onFrame(frame);
  }

  /** Keeps the decoders and buffers of these track keys only. */
  keep(keys) {
    for (const [key, remote] of this.remotes) {
      if (keys.has(key)) continue;
      remote.close();
      this.remotes.delete(key);
      this.post({ type: 'remove', key });
      delete this.figures[key];
      this.latencies.delete(key);
      this.lastPlayed.delete(key);
    }
  }

  setMuted(key, muted) {
    if (muted) this.muted.add(key);
    else this.muted.delete(key);
    this.post({ type: 'mute', key, muted });
  }

  speaking(key) { return (this.speakingUntil.get(key) ?? 0) > performance.now(); }

  /** The played level of a track per 128-sample quantum (its last ~8 s), from the worklet. */
  envelope(key) {
    if (!this.node) return Promise.resolve({ values: [] });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.post({ type: 'envelope', key, id });
    });
  }

  trackStats(key) {
    const remote = this.remotes.get(key);
    const f = this.figures[key] ?? {};
    return {
      ...(remote?.stats ?? { packetsReceived: 0, decoded: 0 }),
      frames: f.frames ?? 0, lost: f.lost ?? 0, concealed: f.concealed ?? 0, late: f.late ?? 0, underruns: f.underruns ?? 0,
      droppedMs: f.droppedMs ?? 0, bufferMs: f.bufferMs ?? 0, targetMs: f.targetMs ?? 0, jitterMs: f.jitterMs ?? 0, level: f.level ?? 0,
      playedLevel: f.playedLevel ?? 0, transitP50Ms: percentileMs(remote?.transits, 0.5), mouthToEarP50Ms: percentileMs(this.latencies.get(key), 0.5),
      mouthToEarP99Ms: percentileMs(this.latencies.get(key), 0.99), envelopeQuanta: f.envelopeQuanta ?? 0, speaking: this.speaking(key), mutedHere: this.muted.has(key),
    };
  }

  stop() {
    this.keep(new Set());
  }
}
