// Protocol version 2 on the wire (docs/PROTOCOL.md Part II): builds the messages the call page sends and parses the ones
// the hub sends. Big-endian, UTF-8 with length prefixes; one v2 message per binary WebSocket message (§4.16).
export const T = Object.freeze({
  WELCOME: 0x02, JOIN: 0x03, RESULT: 0x04, FRAME: 0x12, KEYFRAME_REQUEST: 0x13, SOURCE_STATE: 0x14,
  PING: 0x20, PONG: 0x21, ERROR: 0x30, GOODBYE: 0x31,
  ROOM_SNAPSHOT: 0x40, PARTICIPANT_JOINED: 0x41, PARTICIPANT_LEFT: 0x42, TRACK_PUBLISHED: 0x43,
  TRACK_UNPUBLISHED: 0x44, TRACK_STATE: 0x45,
  PUBLISH: 0x50, UNPUBLISH: 0x51, SUBSCRIBE: 0x52, UNSUBSCRIBE: 0x53, CHAT_SEND: 0x54,
  CHAT_HISTORY: 0x87, CHAT_MESSAGE: 0xC6,
});

export const FEATURE_CHAT = 1n;
export const PERMISSION_CHAT = 4;
export const ANY_PARTICIPANT = 0xFFFFFFFF;
export const ANY_TRACK = 0xFFFF;
export const KIND_VIDEO = 1;
export const KIND_AUDIO = 2;
export const CODEC_JPEG = 1;
export const CODEC_H264 = 3;
export const CODEC_OPUS = 64;
export const SOURCE = Object.freeze({ UNKNOWN: 0, CAMERA: 1, SCREEN: 2, MICROPHONE: 3 });
/** SUBSCRIBE `kinds` with a wildcard (§4.6.3): bit 0 video, bit 1 audio. */
export const KINDS = Object.freeze({ VIDEO: 1, AUDIO: 2 });
/** Audio track_flags (§4.5): in-band FEC, DTX. */
export const AUDIO_FLAGS = Object.freeze({ FEC: 1, DTX: 2 });
/** FRAME frame_flags (§4.6.4). */
export const FRAME_FLAGS = Object.freeze({ KEYFRAME: 1, DROPPABLE: 2, DISCONTINUITY: 4 });
export const MAX_AUDIO_BYTES = 16384;
export const FRAME_HEADER = 32;
const HEADER = 8;
const OPTIONAL_BIT = 0x80;

// §1.4's code table: what a RESULT, ERROR or GOODBYE code means, by name.
const CODE_NAMES = [
  'normal', 'bad-magic', 'unsupported-version', 'malformed', 'too-large', 'unauthorized', 'handshake-timeout',
  'room-busy', 'bad-frame', 'server-shutdown', 'idle-timeout', 'too-many-clients', 'throttled', 'too-slow',
  'over-budget', 'unknown-type', 'room-full', 'track-exists', 'unknown-track', 'not-published', 'too-many-tracks',
  'too-many-subscriptions', 'rate-limited', 'slow-consumer', 'unsupported-media', 'not-allowed', 'connection-lost',
  'unavailable',
];
export const CODE = Object.freeze(Object.fromEntries(CODE_NAMES.map((n, i) => [n.toUpperCase().replaceAll('-', '_'), i])));
export const codeName = (code) => CODE_NAMES[code] ?? `error-${code}`;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

// Names and reasons: no control characters at all. Chat text: TAB, LF and CR allowed (§4.15).
const stripControls = (s) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
export const cleanChatText = (s) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, '');

/** UTF-8 of `text` cut to at most `max` bytes on a character boundary. */
export function utf8Cut(text, max) {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xC0) === 0x80) end--;
  return bytes.subarray(0, end);
}

export const cleanName = (name) => new TextDecoder().decode(utf8Cut(stripControls(name).trim(), 64));
export const utf8Length = (text) => encoder.encode(text).length;

/** Appends big-endian fields to a growing buffer; `done(type)` returns the whole message with its 8-byte header. */
class Writer {
  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
    this.at = HEADER;
  }

  room(n) {
    if (this.at + n <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.at + n));
    bigger.set(this.bytes);
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u8(v) { this.room(1); this.view.setUint8(this.at, v); this.at += 1; return this; }
  u16(v) { this.room(2); this.view.setUint16(this.at, v); this.at += 2; return this; }
  u32(v) { this.room(4); this.view.setUint32(this.at, v >>> 0); this.at += 4; return this; }
  u64(v) { this.room(8); this.view.setBigUint64(this.at, BigInt(v)); this.at += 8; return this; }
  i64(v) { this.room(8); this.view.setBigInt64(this.at, BigInt(v)); this.at += 8; return this; }
  raw(b) { this.room(b.length); this.bytes.set(b, this.at); this.at += b.length; return this; }
  text8(s, max) { const b = utf8Cut(stripControls(s), max); return this.u8(b.length).raw(b); }
  text16(s, max) { const b = utf8Cut(stripControls(s), max); return this.u16(b.length).raw(b); }

  done(type) {
    this.view.setUint8(0, type);
    this.view.setUint32(4, this.at - HEADER);
    return this.bytes.slice(0, this.at).buffer;
  }
}

/** JOIN (§4.6.1) with chat (§4.15): features bit 0 and the resume fields. */
export function join({ room, name, token = '', agent = 'socketcam call page', chatAfter = 0n, chatStore = 0n }) {
  return new Writer().u64(FEATURE_CHAT).u16(0).text8(room, 64).text8(name, 64).text16(token, 4096).text8(agent, 64)
    .u64(chatAfter).u64(chatStore).done(T.JOIN);
}

/**
 * PUBLISH: request id and a track description (§4.5). Video: codec (JPEG unless given), width, height, fps, bitrate. Audio (`kind: KIND_AUDIO`,
 * Opus): channels, sampleRate, packetUs, bitrate, flags (AUDIO_FLAGS).
 */
export function publish(requestId, desc) {
  const w = new Writer().u32(requestId).u16(desc.trackId);
  if (desc.kind === KIND_AUDIO) {
    w.u8(KIND_AUDIO).u8(CODEC_OPUS).u8(desc.source).u8(desc.flags ?? 0).u16(desc.channels).u16(0).u8(0).u8(0)
      .u32(desc.sampleRate).u32(desc.packetUs).u32(desc.bitrate ?? 0);
  } else {
    w.u8(KIND_VIDEO).u8(desc.codec ?? CODEC_JPEG).u8(desc.source).u8(0).u16(desc.width).u16(desc.height).u8(0).u8(0)
      .u32(Math.round(desc.fps * 1000)).u32(0).u32(desc.bitrate ?? 0);
  }
  return w.text8(desc.name, 64).done(T.PUBLISH);
}

export const unpublish = (requestId, trackId) => new Writer().u32(requestId).u16(trackId).u16(0).done(T.UNPUBLISH);

/** SUBSCRIBE (or UNSUBSCRIBE); `kinds` bit 0 = video, bit 1 = audio (KINDS). */
export const subscribe = (requestId, participantId, trackId, kinds = 1, type = T.SUBSCRIBE) =>
  new Writer(24).u32(requestId).u32(participantId).u16(trackId).u8(kinds).u8(0xFF).done(type);

export const sourceState = (trackId, live, text = '') =>
  new Writer().u16(trackId).u8(live ? 1 : 0).u8(0).text16(text, 1024).done(T.SOURCE_STATE);

/** KEYFRAME_REQUEST (§4.6.5) for a track this page receives; reason 0. */
export const keyframeRequest = (participantId, trackId) => new Writer(16).u32(participantId).u16(trackId).u8(0).u8(0).done(T.KEYFRAME_REQUEST);

export const ping = (id, sentUs) => new Writer(24).u32(id).u32(0).i64(sentUs).done(T.PING);
export const pong = (id, echoUs, nowUs) => new Writer(32).u32(id).u32(0).i64(echoUs).i64(nowUs).done(T.PONG);

/** ERROR or GOODBYE (v1's layout). */
export const close = (type, code, text) => new Writer(64).u16(code).text16(text, 1024).done(type);

/** CHAT_SEND: text_len is the exact rest of the payload. */
export function chatSend(requestId, clientMsgId, text) {
  const bytes = encoder.encode(text);
  return new Writer(bytes.length + 32).u32(requestId).u64(clientMsgId).u32(bytes.length).raw(bytes).done(T.CHAT_SEND);
}

/**
 * FRAME of a video track: header, 32-byte FRAME header, data; one allocation. JPEG unless `codec` says otherwise; every
 * JPEG is a keyframe, an H.264 access unit only when `keyframe` says so.
 */
export function frame({ trackId, width, height, sequence, captureUs, codec = CODEC_JPEG, keyframe = true }, jpeg) {
  const data = new Uint8Array(jpeg);
  const out = new Uint8Array(HEADER + FRAME_HEADER + data.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, T.FRAME);
  v.setUint32(4, FRAME_HEADER + data.length);
  v.setUint32(8, 0);
  v.setUint16(12, trackId);
  v.setUint8(14, KIND_VIDEO);
  v.setUint8(15, codec);
  v.setUint8(16, codec === CODEC_JPEG || keyframe ? FRAME_FLAGS.KEYFRAME : 0);
  v.setUint16(20, width);
  v.setUint16(22, height);
  v.setBigInt64(24, BigInt(sequence));
  v.setBigInt64(32, BigInt(captureUs));
  out.set(data, HEADER + FRAME_HEADER);
  return out.buffer;
}

/** FRAME of an Opus audio track: `samples` per channel (960 = 20 ms at 48 kHz), one Opus packet as data. */
export function audioFrame({ trackId, samples, sequence, captureUs, discontinuity = false }, packet) {
  const out = new Uint8Array(HEADER + FRAME_HEADER + packet.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, T.FRAME);
  v.setUint32(4, FRAME_HEADER + packet.byteLength);
  v.setUint32(8, 0);
  v.setUint16(12, trackId);
  v.setUint8(14, KIND_AUDIO);
  v.setUint8(15, CODEC_OPUS);
  v.setUint8(16, FRAME_FLAGS.KEYFRAME | (discontinuity ? FRAME_FLAGS.DISCONTINUITY : 0)); // every Opus packet decodes alone
  v.setUint16(20, samples);
  v.setUint16(22, 0);
  v.setBigInt64(24, BigInt(sequence));
  v.setBigInt64(32, BigInt(captureUs));
  out.set(packet, HEADER + FRAME_HEADER);
  return out.buffer;
}

/** A client-chosen chat id: random, non-zero u64. */
export function randomId() {
  const b = new BigUint64Array(1);
  do crypto.getRandomValues(b); while (b[0] === 0n);
  return b[0];
}

export class ProtocolError extends Error {
  constructor(code, text) {
    super(text);
    this.code = code;
  }
}

/** Reads big-endian fields; every read checks the length first (a short message is malformed). */
class Reader {
  constructor(buffer, offset, length, what) {
    this.view = new DataView(buffer, offset, length);
    this.bytes = new Uint8Array(buffer, offset, length);
    this.at = 0;
    this.what = what;
  }

  get remaining() { return this.bytes.length - this.at; }

  need(n) {
    if (this.remaining < n) throw new ProtocolError(CODE.MALFORMED, `${this.what}: too short`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u8() { return this.view.getUint8(this.need(1)); }
  u16() { return this.view.getUint16(this.need(2)); }
  u32() { return this.view.getUint32(this.need(4)); }
  u64() { return this.view.getBigUint64(this.need(8)); }
  i64() { return this.view.getBigInt64(this.need(8)); }
  bytesOf(n) { const at = this.need(n); return this.bytes.subarray(at, at + n); }

  text(n) {
    try {
      return decoder.decode(this.bytesOf(n));
    } catch {
      throw new ProtocolError(CODE.MALFORMED, `${this.what}: text is not UTF-8`);
    }
  }

  text8() { return this.text(this.u8()); }
  text16() { return this.text(this.u16()); }

  skipTo(end) {
    if (end < this.at || end > this.bytes.length) throw new ProtocolError(CODE.MALFORMED, `${this.what}: bad record length`);
    this.at = end;
  }
}

function participantRecord(r) {
  const start = r.at;
  const len = r.u16();
  const p = { transport: r.u8(), flags: r.u8(), id: r.u32(), joinedAtUs: r.i64(), name: r.text8() };
  r.skipTo(start + len);
  return p;
}

function trackDescription(r) {
  const d = { trackId: r.u16(), kind: r.u8(), codec: r.u8(), source: r.u8(), flags: r.u8(), width: r.u16(), height: r.u16() };
  r.u8();
  r.u8();
  d.rate = r.u32();
  d.packetUs = r.u32();
  d.bitrate = r.u32();
  d.name = r.text8();
  if (d.kind === KIND_AUDIO) d.channels = d.width;
  return d;
}

function trackRecord(r) {
  const start = r.at;
  const len = r.u16();
  const live = r.u8() === 1;
  r.u8();
  const participantId = r.u32();
  const t = { ...trackDescription(r), participantId, live, text: '' };
  t.text = r.text16();
  r.skipTo(start + len);
  return t;
}

function chatRecord(r) {
  const start = r.at;
  const len = r.u16();
  const m = { seq: r.u64(), sentAtUs: r.i64(), participantId: r.u32(), clientMsgId: r.u64(), name: r.text8() };
  m.text = r.text(r.u16());
  r.skipTo(start + len);
  return m;
}

function welcome(r) {
  const w = {
    sessionId: r.u64(), serverTimeUs: r.i64(), maxFrameBytes: r.u32(), participantId: r.u32(), roomEpoch: r.u64(),
    features: r.u64(), permissions: r.u32(),
  };
  r.need(20); // limits this page keeps to by construction
  if ((w.features & FEATURE_CHAT) && r.remaining >= 16) {
    w.chat = { store: r.u64(), maxBytes: r.u16(), burst: r.u16(), rateX10: r.u16(), history: r.u16() };
  }
  return w;
}

function result(r) {
  const m = { requestId: r.u32(), code: r.u16() };
  const textLen = r.u16();
  m.value = r.u32();
  m.text = r.text(textLen);
  if (r.remaining >= 16) {
    m.chatSeq = r.u64();
    m.sentAtUs = r.i64();
  }
  return m;
}

function snapshot(r) {
  const m = { chunk: r.u16(), last: (r.u8() & 1) === 1 };
  r.u8();
  const pc = r.u16();
  const tc = r.u16();
  m.participants = Array.from({ length: pc }, () => participantRecord(r));
  m.tracks = Array.from({ length: tc }, () => trackRecord(r));
  return m;
}

function chatHistory(r) {
  const m = { store: r.u64(), chunk: r.u16() };
  const flags = r.u8();
  r.u8();
  m.last = (flags & 1) === 1;
  m.truncated = (flags & 2) === 2;
  m.reset = (flags & 4) === 4;
  const count = r.u16();
  m.messages = Array.from({ length: count }, () => chatRecord(r));
  return m;
}

function frameIn(r, buffer, offset) {
  const f = { participantId: r.u32(), trackId: r.u16(), kind: r.u8(), codec: r.u8(), flags: r.u8() };
  r.u8();
  const ext = r.u16();
  f.width = r.u16();
  f.height = r.u16();
  f.sequence = r.i64();
  f.captureUs = r.i64();
  r.need(ext);
  f.data = new Uint8Array(buffer, offset + r.at, r.remaining);
  return f;
}

// Room events (§4.7) start with event_seq; the body parsers read what follows it.
const EVENT_BODIES = {
  [T.ROOM_SNAPSHOT]: snapshot,
  [T.PARTICIPANT_JOINED]: (r) => ({ participant: participantRecord(r) }),
  [T.PARTICIPANT_LEFT]: (r) => ({ participantId: r.u32(), reason: r.u16() }),
  [T.TRACK_PUBLISHED]: (r) => ({ track: trackRecord(r) }),
  [T.TRACK_UNPUBLISHED]: (r) => ({ participantId: r.u32(), trackId: r.u16(), reason: r.u16() }),
  [T.TRACK_STATE]: (r) => {
    const m = { participantId: r.u32(), trackId: r.u16(), live: r.u8() === 1 };
    r.u8();
    m.text = r.text16();
    return m;
  },
  [T.CHAT_MESSAGE]: (r) => ({ message: chatRecord(r) }),
};

const BODIES = {
  [T.WELCOME]: welcome,
  [T.RESULT]: result,
  [T.CHAT_HISTORY]: chatHistory,
  [T.PING]: (r) => ({ id: r.u32(), reserved: r.u32(), sentUs: r.i64() }),
  [T.PONG]: (r) => ({ id: r.u32(), reserved: r.u32(), echoUs: r.i64(), peerUs: r.i64() }),
  [T.ERROR]: (r) => ({ code: r.u16(), text: r.text16() }),
  [T.GOODBYE]: (r) => ({ code: r.u16(), text: r.text16() }),
  [T.KEYFRAME_REQUEST]: (r) => ({ participantId: r.u32(), trackId: r.u16() }),
};

const isEvent = (type) => (type & 0x70) === 0x40;

/**
 * Parses one binary WebSocket message (exactly one v2 message). Returns { type, ...fields }; room events carry `seq`
 * (unknown optional events too, with `unknown: true`); an unknown optional type is { type, unknown: true }. An unknown
 * required type or a malformed message throws ProtocolError.
 */
export function parse(buffer) {
  if (buffer.byteLength < HEADER) throw new ProtocolError(CODE.MALFORMED, 'a message shorter than its header');
  const head = new DataView(buffer, 0, HEADER);
  const type = head.getUint8(0);
  const length = head.getUint32(4);
  if (length !== buffer.byteLength - HEADER) throw new ProtocolError(CODE.MALFORMED, `type 0x${hex(type)}: length ${length} does not match`);
  const r = new Reader(buffer, HEADER, length, `type 0x${hex(type)}`);
  if (type === T.FRAME) return { type, ...frameIn(r, buffer, HEADER) };
  if (isEvent(type)) {
    const seq = r.u64();
    const body = EVENT_BODIES[type];
    if (body) return { type, seq, ...body(r) };
    if (type & OPTIONAL_BIT) return { type, seq, unknown: true };
  } else if (BODIES[type]) {
    return { type, ...BODIES[type](r) };
  } else if ((type & OPTIONAL_BIT) && type !== OPTIONAL_BIT) {
    return { type, unknown: true };
  }
  throw new ProtocolError(CODE.UNKNOWN_TYPE, `unknown message type 0x${hex(type)}`);
}

const hex = (n) => n.toString(16).toUpperCase().padStart(2, '0');
