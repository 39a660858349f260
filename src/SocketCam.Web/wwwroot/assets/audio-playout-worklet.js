// The call page's audio playout and, where MediaStreamTrackProcessor is missing, its microphone capture (AudioWorklet
// processors; call-audio.js loads them): one jitter buffer per remote audio track,
// mixed to one mono output. Decoded 20 ms frames arrive as messages { type: 'pcm', key, seq, captureUs, pcm }; the
// buffer plays once it holds its target (20..120 ms, adapted to the arrival jitter and raised after an underrun), never
// holds more than the maximum (the oldest samples are dropped), and conceals a sequence gap by repeating the last frame
// fading out (then silence), counting every concealed 20 ms frame. Figures go back to the page every ~100 ms.
const MIN_MS = 20;
const MAX_MS = 120;
const START_MS = 40;
const FRAME = 960;                 // 20 ms at 48 kHz: the unit of concealment
const MAX_CONCEAL_FRAMES = 3;      // longer gaps: the fade has reached silence; the rest is not played
const FADE_FRAMES = 3;
const JITTER_WINDOW = 100;         // packets (2 s of 20 ms)
const TRIM_WINDOW_S = 1;           // a buffer above its target for this long is trimmed back
const STATS_QUANTA = 36;           // ~100 ms of 128-sample quanta
const ENVELOPE_QUANTA = 3000;      // ~8 s of the played level, per 128-sample quantum, for tests
const QUANTUM = 128;
const LEVEL_FALL = Math.exp(-QUANTUM / (0.3 * sampleRate)); // levels are peaks falling with a 300 ms time constant

const ms = (samples) => (samples * 1000) / sampleRate;
const samplesOf = (milliseconds) => Math.round((milliseconds * sampleRate) / 1000);

class Track {
  constructor(key) {
    this.key = key;
    this.chunks = [];        // Float32Array frames waiting to be played
    this.readAt = 0;         // offset into chunks[0]
    this.buffered = 0;       // samples waiting
    this.playing = false;
    this.targetMs = START_MS;
    this.jitterMs = 0;
    this.underrunBoostMs = 0;
    this.lastSeq = null;
    this.lastFrame = null;
    this.concealRun = 0;
    this.muted = false;
    this.delays = [];        // arrival − capture (µs) of the last packets, for the jitter
    this.minBuffered = Infinity;
    this.windowStart = currentFrame;
    this.level = 0;          // the decoded signal (before the local mute), smoothed
    this.playedLevel = 0;    // what this track adds to the output
    this.envelope = new Float32Array(ENVELOPE_QUANTA);
    this.envelopeAt = 0;
    this.envelopeCount = 0;
    this.stats = { received: 0, frames: 0, late: 0, lost: 0, concealed: 0, underruns: 0, droppedMs: 0 };
  }

  push(frame) {
    this.chunks.push(frame);
    this.buffered += frame.length;
  }

  /** Drops `n` samples from the head (the oldest). */
  drop(n) {
    let left = Math.min(n, this.buffered);
    this.stats.droppedMs += ms(left);
    while (left > 0 && this.chunks.length) {
      const head = this.chunks[0];
      const take = Math.min(left, head.length - this.readAt);
      this.readAt += take;
      this.buffered -= take;
      left -= take;
      if (this.readAt >= head.length) {
        this.chunks.shift();
        this.readAt = 0;
      }
    }
  }

  /** Copies up to `out.length` samples into `out`; returns how many there were. */
  read(out) {
    let at = 0;
    while (at < out.length && this.chunks.length) {
      const head = this.chunks[0];
      const take = Math.min(out.length - at, head.length - this.readAt);
      out.set(head.subarray(this.readAt, this.readAt + take), at);
      at += take;
      this.readAt += take;
      if (this.readAt >= head.length) {
        this.chunks.shift();
        this.readAt = 0;
      }
    }
    this.buffered -= at;
    return at;
  }

  onPcm({ seq, captureUs, pcm, discontinuity }) {
    this.stats.received++;
    if (this.lastSeq !== null && !discontinuity) {
      const gap = seq - this.lastSeq - 1;
      if (gap < -JITTER_WINDOW) {
        // Far behind: the publisher started counting again (a new source); not a late packet.
        discontinuity = true;
      } else if (gap < 0) {
        this.stats.late++;
        return;
      } else if (gap > 0) {
        this.stats.lost += gap;
        this.conceal(Math.min(gap, MAX_CONCEAL_FRAMES));
      }
    }
    if (discontinuity) this.delays = [];
    this.lastSeq = seq;
    this.concealRun = 0;
    this.lastFrame = pcm;
    this.stats.frames++;
    pcm.captureUs = captureUs; // for the mouth-to-ear figure: which capture instant is being played
    this.push(pcm);

    // Jitter: the spread of (arrival − capture) over the last packets; the clocks' offset cancels out.
    this.delays.push((currentFrame / sampleRate) * 1e6 - captureUs);
    if (this.delays.length > JITTER_WINDOW) this.delays.shift();
    let lo = Infinity;
    let hi = -Infinity;
    for (const d of this.delays) {
      if (d < lo) lo = d;
      if (d > hi) hi = d;
    }
    this.jitterMs = this.delays.length > 1 ? (hi - lo) / 1000 : 0;
    this.targetMs = Math.min(MAX_MS, Math.max(MIN_MS, this.jitterMs + ms(QUANTUM) + this.underrunBoostMs));

    // Never more than the maximum: the oldest goes.
    const max = samplesOf(MAX_MS) + FRAME;
    if (this.buffered > max) this.drop(this.buffered - samplesOf(this.targetMs));
  }

  /** Fills a lost packet: the last frame again, fading out over FADE_FRAMES frames, then silence. */
  conceal(frames) {
    for (let i = 0; i < frames; i++) {
      const frame = new Float32Array(FRAME);
      const source = this.lastFrame;
      if (source && this.concealRun < FADE_FRAMES) {
        const from = 1 - this.concealRun / FADE_FRAMES;
        const to = 1 - (this.concealRun + 1) / FADE_FRAMES;
        for (let s = 0; s < FRAME; s++) frame[s] = (source[s % source.length] ?? 0) * (from + ((to - from) * s) / FRAME);
      }
      this.concealRun++;
      this.stats.concealed++;
      this.push(frame);
    }
  }

  /** One render quantum into `mix` (added); `scratch` is this quantum's buffer. */
  render(mix, scratch) {
    scratch.fill(0);
    if (!this.playing && this.buffered >= samplesOf(this.targetMs)) this.playing = true;
    let n = 0;
    if (this.playing) {
      const head = this.chunks[0];
      if (head?.captureUs !== undefined) {
        this.playedCaptureUs = head.captureUs + (this.readAt / sampleRate) * 1e6;
        this.playedAtFrame = currentFrame;
      }
      n = this.read(scratch);
      if (n < scratch.length) {
        // Ran dry: wait for the target again, a little higher (it decays back as arrivals stay regular).
        this.playing = false;
        this.stats.underruns++;
        this.underrunBoostMs = Math.min(MAX_MS - MIN_MS, this.underrunBoostMs + 20);
      }
      this.trim();
    }
    let sum = 0;
    for (let i = 0; i < n; i++) sum += scratch[i] * scratch[i];
    const rms = Math.sqrt(sum / scratch.length);
    this.level = Math.max(rms, this.level * LEVEL_FALL);
    const played = this.muted ? 0 : rms;
    this.playedLevel = Math.max(played, this.playedLevel * LEVEL_FALL);
    if (!this.muted) for (let i = 0; i < mix.length; i++) mix[i] += scratch[i];
    this.envelope[this.envelopeAt] = played;
    this.envelopeAt = (this.envelopeAt + 1) % ENVELOPE_QUANTA;
    this.envelopeCount = Math.min(ENVELOPE_QUANTA, this.envelopeCount + 1);
  }

  /** Latency creep: a buffer that stayed above its target for a whole window gives back the excess. */
  trim() {
    this.minBuffered = Math.min(this.minBuffered, this.buffered);
    if (currentFrame - this.windowStart < TRIM_WINDOW_S * sampleRate) return;
    const excess = this.minBuffered - samplesOf(this.targetMs);
    if (excess > samplesOf(10)) this.drop(Math.min(excess, FRAME));
    this.underrunBoostMs = Math.max(0, this.underrunBoostMs - 10);
    this.minBuffered = Infinity;
    this.windowStart = currentFrame;
  }

  envelopeValues() {
    const out = [];
    for (let i = 0; i < this.envelopeCount; i++) {
      out.push(this.envelope[(this.envelopeAt - this.envelopeCount + i + ENVELOPE_QUANTA) % ENVELOPE_QUANTA]);
    }
    return out;
  }

  figures() {
    return {
      ...this.stats,
      bufferMs: ms(this.buffered),
      targetMs: this.targetMs,
      jitterMs: this.jitterMs,
      playing: this.playing,
      muted: this.muted,
      level: this.level,
      playedLevel: this.playedLevel,
      envelopeQuanta: this.envelopeCount,
      playedCaptureUs: this.playedCaptureUs ?? 0,
      playedAtFrame: this.playedAtFrame ?? 0,
    };
  }
}

class PlayoutProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.tracks = new Map();
    this.scratch = new Float32Array(QUANTUM);
    this.quanta = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  track(key) {
    let t = this.tracks.get(key);
    if (!t) this.tracks.set(key, (t = new Track(key)));
    return t;
  }

  onMessage(m) {
    switch (m.type) {
      case 'pcm': return this.track(m.key).onPcm(m);
      case 'mute': return void (this.track(m.key).muted = m.muted);
      case 'remove': return void this.tracks.delete(m.key);
      case 'envelope': {
        const t = this.tracks.get(m.key);
        return this.port.postMessage({ type: 'envelope', id: m.id, key: m.key, quantum: QUANTUM, sampleRate, values: t ? t.envelopeValues() : [] });
      }
      default:
    }
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    if (!out) return true;
    out.fill(0);
    if (this.scratch.length !== out.length) this.scratch = new Float32Array(out.length);
    for (const t of this.tracks.values()) t.render(out, this.scratch);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(-1, Math.min(1, out[i]));
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (++this.quanta % STATS_QUANTA === 0) {
      const tracks = {};
      for (const [key, t] of this.tracks) tracks[key] = t.figures();
      this.port.postMessage({ type: 'stats', tracks });
    }
    return true;
  }
}

registerProcessor('socketcam-playout', PlayoutProcessor);

/**
 * Microphone capture where MediaStreamTrackProcessor is missing: the input's first channel in 20 ms blocks, each with
 * the time of its first sample (µs on the AudioContext's clock: currentFrame), posted as { pcm, frame }.
 */
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(FRAME);
    this.at = 0;
    this.first = 0;
  }

  process(inputs) {
    const input = inputs[0]?.[0];
    if (!input) return true;
    if (this.at === 0) this.first = currentFrame;
    let i = 0;
    while (i < input.length) {
      const take = Math.min(input.length - i, FRAME - this.at);
      this.block.set(input.subarray(i, i + take), this.at);
      this.at += take;
      i += take;
      if (this.at === FRAME) {
        this.port.postMessage({ pcm: this.block, frame: this.first }, [this.block.buffer]);
        this.block = new Float32Array(FRAME);
        this.at = 0;
        this.first = currentFrame + i;
      }
    }
    return true;
  }
}

registerProcessor('socketcam-capture', CaptureProcessor);
