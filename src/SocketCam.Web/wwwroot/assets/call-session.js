// One participant's protocol v2 session over the `socketcam.v2` WebSocket (docs/PROTOCOL.md §4.16), kept alive across
// drops: JOIN (with chat resume), the room from the snapshot and events (gap-checked), requests and their RESULTs, our
// tracks (published again after a reconnect), frames in and out, the hub's clock, and the chat rule of §4.15.
import * as v2 from './v2.js';

const PING_MS = 5000;           // the hub drops a peer it has not heard from for 15 s
const SILENCE_MS = 15000;       // and so do we: 15 s without a byte means the hub or the path is gone
const BACKOFF_MIN_MS = 500;
const STABLE_MS = 10000;
const MAX_SENDABLE_BYTES = 60000; // CHAT_SEND's cap is 64 KiB with its header; the hub refuses above 4096 with a RESULT
const BACKOFF_MAX_MS = 5000;
const CLOCK_SAMPLES = 8;
// Extra pings after WELCOME: the first pong often waits behind a busy page (camera, encoders starting), and latency
// figures lean on the offset from the fastest round trip, so a few samples early beat waiting PING_MS for each.
const EARLY_PINGS_MS = [300, 800, 1500, 3000];
const STATE_MS = 300;             // SOURCE_STATE per track at most this often (each takes a request token)
const AUDIO_BUFFER_BYTES = 65536; // an audio packet is skipped while the socket holds more than this
// An encoded H.264 access unit is skipped only above this: the frames after it depend on it, so a skip costs a keyframe.
// The sender already waits for an emptier socket before it encodes (canSend), so this is the stalled-socket case.
const ENCODED_BUFFER_BYTES = 1 << 20;
const FINAL_CLOSES = new Set([4401]);                 // the HTTP token check: a retry cannot fix it
const FINAL_ERRORS = new Set([v2.CODE.UNAUTHORIZED, v2.CODE.ROOM_FULL]);

const localUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** The hub's clock, from PING/PONG: the offset of the sample with the shortest round trip (NTP style). */
class HubClock {
  constructor() {
    this.samples = [];
    this.offsetUs = 0;
    this.rttUs = null;
  }

  guess(serverUs) {
    if (this.samples.length === 0) this.offsetUs = serverUs - localUs();
  }

  pong(echoUs, peerUs) {
    const now = localUs();
    this.samples.push({ rtt: now - echoUs, offset: peerUs - (echoUs + now) / 2 });
    if (this.samples.length > CLOCK_SAMPLES) this.samples.shift();
    const best = this.samples.reduce((a, s) => (s.rtt < a.rtt ? s : a));
    this.offsetUs = Math.round(best.offset);
    this.rttUs = now - echoUs;
  }

  now() { return localUs() + this.offsetUs; }
}

/**
 * The chat of §4.15 on the client: live messages held until the session's last CHAT_HISTORY chunk, every chat_seq shown
 * once and in order (`last`), resume fields for the next JOIN, and what was sent without a RESULT yet (resent, same id).
 */
class ChatState {
  constructor(emit) {
    this.emit = emit;
    this.last = 0n;
    this.store = 0n;
    this.holding = false;
    this.history = [];
    this.held = [];
    this.unacked = new Map(); // client_msg_id -> text
  }

  /** A session begins: with chat, hold live messages until its history is in. */
  begin(hasChat) {
    this.holding = hasChat;
    this.history = [];
    this.held = [];
  }

  onHistory(chunk) {
    if (this.store !== 0n && (chunk.store !== this.store || (chunk.reset && chunk.chunk === 0))) {
      // Another store (wiped, or another hub), or ours restored from an older backup (reset): its sequence is not the
      // one we counted; start again from its last messages.
      this.last = 0n;
      this.emit('chatreset');
    }
    this.store = chunk.store;
    this.history.push(...chunk.messages);
    if (!chunk.last) return;
    this.holding = false;
    if (chunk.truncated) this.emit('chatgap');
    for (const m of [...this.history, ...this.held]) this.show(m);
    this.history = [];
    this.held = [];
  }

  onLive(message) {
    if (this.holding) this.held.push(message);
    else this.show(message);
  }

  show(message) {
    if (message.seq <= this.last) return;
    this.last = message.seq;
    this.emit('chat', message);
  }
}

export class CallSession {
  constructor({ room, name, token, wsUrl }) {
    Object.assign(this, { room, name, token, wsUrl });
    this.handlers = new Map();
    this.state = 'idle';
    this.reason = '';
    this.ws = null;
    this.welcome = null;
    this.participantId = 0;
    this.participants = new Map(); // id -> { id, name, transport, flags }
    this.tracks = new Map();       // "pid:tid" -> track record
    this.local = new Map();        // our tracks: trackId -> { desc, published, live, stateText }
    this.requests = new Map();     // request_id -> callback(result)
    this.nextRequest = 1;
    this.lastSeq = null;
    this.snapshot = null;          // chunks being collected
    this.epoch = null;
    this.clock = new HubClock();
    this.chat = new ChatState((event, arg) => this.emit(event, arg));
    this.backoffMs = BACKOFF_MIN_MS;
    this.reconnects = 0;
    this.timers = [];
    this.lastHeard = 0;
    this.pingId = 0;
  }

  on(event, handler) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(handler);
    return this;
  }

  emit(event, arg) {
    for (const handler of this.handlers.get(event) ?? []) handler(arg);
  }

  setState(state, reason = '') {
    this.state = state;
    this.reason = reason;
    this.emit('state', { state, reason });
  }

  // --- connection ---

  start() {
    this.fatal = null;
    this.backoffMs = BACKOFF_MIN_MS;
    this.setState('joining');
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.wsUrl, 'socketcam.v2');
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (e) => this.onMessage(ws, e.data);
    ws.onclose = (e) => this.onClose(ws, e);
  }

  onOpen(ws) {
    if (ws !== this.ws) return;
    this.lastHeard = performance.now();
    const c = this.chat;
    ws.send(v2.join({ room: this.room, name: this.name, token: this.token ?? '', chatAfter: c.last, chatStore: c.store }));
    this.timers.push(setInterval(() => this.tick(ws), PING_MS / 5));
  }

  tick(ws) {
    if (ws !== this.ws) return;
    const now = performance.now();
    if (now - this.lastHeard > SILENCE_MS) return this.drop(ws, v2.CODE.IDLE_TIMEOUT, 'nothing heard from the hub for 15 s');
    if (this.welcome && now - (this.lastPing ?? 0) >= PING_MS) this.ping();
  }

  ping() {
    this.lastPing = performance.now();
    this.send(v2.ping(++this.pingId, localUs()));
  }

  send(message) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(message);
    return true;
  }

  /** Ends this socket with ERROR (our side found a problem) and reconnects. */
  drop(ws, code, text) {
    if (ws.readyState === WebSocket.OPEN) ws.send(v2.close(v2.T.ERROR, code, text));
    ws.close(code === v2.CODE.NORMAL ? 1000 : 4000, text.slice(0, 100));
    this.onClose(ws, { code: 4000, reason: text });
  }

  onClose(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.timers.forEach(clearInterval);
    this.timers = [];
    this.requests.clear();
    this.welcome = null;
    for (const t of this.local.values()) t.published = false;
    if (this.state === 'left') return;
    if (FINAL_CLOSES.has(event.code) || this.fatal) return this.stop(this.fatal ?? `${event.reason || 'refused'} (${event.code})`);
    this.reconnects++;
    // The backoff starts over only after a session that lasted: a hub that ends every session at once is not hammered.
    if (this.joinedAt && performance.now() - this.joinedAt > STABLE_MS) this.backoffMs = BACKOFF_MIN_MS;
    this.joinedAt = 0;
    this.setState('reconnecting', event.reason || `connection lost (${event.code})`);
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.reconnectTimer = setTimeout(() => this.state === 'reconnecting' && this.connect(), wait);
  }

  stop(reason) {
    this.setState('left', reason);
    this.emit('ended', reason);
  }

  /** Leaves politely (GOODBYE); rejoin with start(). */
  leave() {
    clearTimeout(this.reconnectTimer);
    this.setState('left', 'you left the call');
    const ws = this.ws;
    this.ws = null;
    this.timers.forEach(clearInterval);
    this.timers = [];
    if (ws?.readyState === WebSocket.OPEN) {
      ws.send(v2.close(v2.T.GOODBYE, v2.CODE.NORMAL, 'left the call'));
      ws.close(1000, 'left');
    } else {
      ws?.close();
    }
    this.participants.clear();
    this.tracks.clear();
    this.fatal = null;
    this.emit('room', { reset: true });
  }

  // --- incoming ---

  onMessage(ws, data) {
    if (ws !== this.ws || typeof data === 'string') return;
    this.lastHeard = performance.now();
    let m;
    try {
      m = v2.parse(data);
    } catch (err) {
      return this.drop(ws, err.code ?? v2.CODE.MALFORMED, err.message);
    }
    if (m.seq !== undefined && !this.checkSeq(ws, m)) return;
    const handler = this.dispatch[m.type];
    if (handler) handler.call(this, m, ws);
  }

  // Events are gap-free (§4.7): the snapshot sets the sequence, every later event is exactly +1.
  checkSeq(ws, m) {
    if (m.type === v2.T.ROOM_SNAPSHOT) {
      if (this.lastSeq !== null && m.seq !== this.lastSeq) {
        this.drop(ws, v2.CODE.MALFORMED, `snapshot chunk of event ${m.seq} after ${this.lastSeq}`);
        return false;
      }
      this.lastSeq = m.seq;
      return true;
    }
    if (this.lastSeq === null || m.seq !== this.lastSeq + 1n) {
      this.drop(ws, v2.CODE.MALFORMED, `event ${m.seq} after ${this.lastSeq}`);
      return false;
    }
    this.lastSeq = m.seq;
    return true;
  }

  onWelcome(m) {
    this.welcome = m;
    this.participantId = m.participantId;
    this.clock = new HubClock(); // perhaps another hub process: its own offset
    this.clock.guess(Number(m.serverTimeUs));
    this.lastSeq = null;
    this.snapshot = [];
    this.chat.begin(!!m.chat);
    this.ping();
    const ws = this.ws;
    for (const ms of EARLY_PINGS_MS) this.timers.push(setTimeout(() => ws === this.ws && this.welcome && this.ping(), ms));
  }

  onSnapshot(m) {
    this.snapshot.push(m);
    if (!m.last) return;
    const chunks = this.snapshot;
    this.snapshot = null;
    const epochChanged = this.epoch !== this.welcome.roomEpoch;
    this.epoch = this.welcome.roomEpoch;
    this.participants = new Map(chunks.flatMap((c) => c.participants).map((p) => [p.id, p]));
    this.tracks = new Map(chunks.flatMap((c) => c.tracks).map((t) => [key(t.participantId, t.trackId), t]));
    this.emit('room', { reset: epochChanged });
    this.afterJoin();
  }

  // Everything a (re)joined session asks for: our tracks, the others' video and audio, the chat we still owe.
  afterJoin() {
    this.joinedAt = performance.now();
    for (const track of this.local.values()) this.sendPublish(track);
    this.request((id) => v2.subscribe(id, v2.ANY_PARTICIPANT, v2.ANY_TRACK, v2.KINDS.VIDEO | v2.KINDS.AUDIO), (r) => r.code && this.emit('refused', r));
    // Resent in order, a bucket's worth at once and the rest at the hub's rate, so the rate limit refuses none of them.
    const burst = Math.max(1, (this.welcome.chat?.burst ?? 10) - 1);
    const intervalMs = 10000 / Math.max(1, this.welcome.chat?.rateX10 ?? 20);
    [...this.chat.unacked].forEach(([clientId, text], i) => {
      if (i < burst) return this.sendChat(clientId, text);
      this.timers.push(setTimeout(() => {
        if (this.state === 'live' && this.chat.unacked.has(clientId)) this.sendChat(clientId, text);
      }, (i - burst + 1) * intervalMs));
    });
    this.setState('live');
  }

  onJoined(m) {
    this.participants.set(m.participant.id, m.participant);
    this.emit('joined', m.participant);
  }

  onLeft(m) {
    const p = this.participants.get(m.participantId);
    this.participants.delete(m.participantId);
    for (const [k, t] of this.tracks) if (t.participantId === m.participantId) this.tracks.delete(k);
    if (p) this.emit('left', { ...p, reason: m.reason });
  }

  onTrackPublished(m) {
    this.tracks.set(key(m.track.participantId, m.track.trackId), m.track);
    this.emit('track', m.track);
  }

  onTrackUnpublished(m) {
    const k = key(m.participantId, m.trackId);
    const t = this.tracks.get(k);
    this.tracks.delete(k);
    if (t) this.emit('untrack', t);
  }

  onTrackState(m) {
    const t = this.tracks.get(key(m.participantId, m.trackId));
    if (!t) return;
    t.live = m.live;
    t.text = m.text;
    this.emit('trackstate', t);
  }

  onResult(m) {
    const callback = this.requests.get(m.requestId);
    this.requests.delete(m.requestId);
    callback?.(m);
  }

  onPing(m) { this.send(v2.pong(m.id, m.sentUs, localUs())); }

  onPong(m) { this.clock.pong(Number(m.echoUs), Number(m.peerUs)); }

  onClosing(m, ws) {
    const text = `${v2.codeName(m.code)}${m.text ? ': ' + m.text : ''}`;
    if (m.type === v2.T.ERROR && FINAL_ERRORS.has(m.code)) this.fatal = text;
    ws.close(1000);
    this.onClose(ws, { code: 1000, reason: text });
  }

  // --- requests ---

  request(build, callback) {
    const id = this.nextRequest;
    this.nextRequest = (this.nextRequest % 0xFFFFFFFF) + 1;
    if (!this.send(build(id))) return false;
    this.requests.set(id, callback);
    return true;
  }

  /** Publishes one of our tracks now and after every reconnect, until unpublishTrack. */
  publishTrack(desc, live = true, stateText = '') {
    const track = { desc, published: false, live, stateText, sequence: 0 };
    this.local.set(desc.trackId, track);
    if (this.welcome) this.sendPublish(track);
  }

  sendPublish(track) {
    this.request((id) => v2.publish(id, track.desc), (r) => {
      if (r.code !== 0 && r.code !== v2.CODE.TRACK_EXISTS) return this.emit('refused', r);
      if (this.local.get(track.desc.trackId) !== track) return;
      track.published = true;
      // A new track is live: only a track that is not needs saying so.
      track.sentLive = true;
      track.sentText = '';
      if (!track.live) this.sendState(track);
    });
  }

  unpublishTrack(trackId) {
    const track = this.local.get(trackId);
    this.local.delete(trackId);
    if (track && this.welcome) this.request((id) => v2.unpublish(id, trackId), () => {});
  }

  /**
   * SOURCE_STATE of our track (camera off or microphone muted: no signal; on: live, and frames follow). Each takes one
   * of the hub's request tokens, so a quick series of toggles sends the latest state at most every STATE_MS per track.
   */
  setTrackLive(trackId, live, text = '') {
    const track = this.local.get(trackId);
    if (!track) return;
    track.live = live;
    track.stateText = text;
    if (!track.published || track.stateTimer) return;
    const wait = (track.stateSentAt ?? -Infinity) + STATE_MS - performance.now();
    if (wait <= 0) return this.sendState(track);
    track.stateTimer = setTimeout(() => {
      track.stateTimer = 0;
      if (track.published && this.local.get(trackId) === track) this.sendState(track);
    }, wait);
  }

  sendState(track) {
    if (track.sentLive === track.live && track.sentText === track.stateText) return;
    track.stateSentAt = performance.now();
    track.sentLive = track.live;
    track.sentText = track.stateText;
    this.send(v2.sourceState(track.desc.trackId, track.live, track.stateText));
  }

  /** Whether a frame of this size may go now: the track is published and the socket holds less than one frame. */
  canSend(trackId, bytes) {
    const track = this.local.get(trackId);
    return !!(track?.published && track.live && this.ws?.readyState === WebSocket.OPEN && this.ws.bufferedAmount < Math.max(bytes, 16384));
  }

  /**
   * One Opus packet of our audio track. Audio is small and must not wait behind video: it goes while the socket holds
   * less than AUDIO_BUFFER_BYTES; above that the packet is skipped but still counted in `sequence` (the receivers see
   * the gap and conceal it). False when it was not sent.
   */
  sendAudio(trackId, packet, samples, captureUs, discontinuity) {
    const track = this.local.get(trackId);
    if (!track?.published || !track.live || this.ws?.readyState !== WebSocket.OPEN) return false;
    const sequence = ++track.sequence;
    if (this.ws.bufferedAmount > AUDIO_BUFFER_BYTES) return false;
    return this.send(v2.audioFrame({ trackId, samples, sequence, captureUs, discontinuity }, packet));
  }

  sendFrame(trackId, jpeg, width, height, captureUs) {
    const track = this.local.get(trackId);
    if (!this.canSend(trackId, 0)) return false;
    return this.send(v2.frame({ trackId, width, height, sequence: ++track.sequence, captureUs }, jpeg));
  }

  /**
   * One H.264 access unit of our track (one EncodedVideoChunk). Its `sequence` is taken even when the socket is too
   * full to take it, so receivers see the gap; false means it was not sent and the encoder's next frame must be a
   * keyframe.
   */
  sendEncoded(trackId, data, width, height, captureUs, keyframe) {
    const track = this.local.get(trackId);
    if (!track?.published || !track.live || this.ws?.readyState !== WebSocket.OPEN) return false;
    const sequence = ++track.sequence;
    if (this.ws.bufferedAmount > ENCODED_BUFFER_BYTES) return false;
    return this.send(v2.frame({ trackId, width, height, sequence, captureUs, codec: v2.CODEC_H264, keyframe }, data));
  }

  /** Asks the hub for a keyframe of a track we receive (§4.6.5; the hub coalesces, so asking again is harmless). */
  requestKeyframe(participantId, trackId) {
    return this.send(v2.keyframeRequest(participantId, trackId));
  }

  // --- chat ---

  /** Sends a chat message: kept as unacknowledged until its RESULT, resent with the same id after a reconnect. */
  sendChatText(text) {
    const clientId = v2.randomId();
    // Above what CHAT_SEND can carry the hub would end the session (and a resend would end the next one): refused here.
    const bytes = v2.utf8Length(text);
    if (bytes > MAX_SENDABLE_BYTES) {
      this.emit('chatrefused', { clientId, text, code: v2.CODE.TOO_LARGE, value: this.chatMaxBytes,
        reason: `A message is at most ${this.chatMaxBytes} bytes; this one is ${bytes} (not sent).` });
      return clientId;
    }

    this.chat.unacked.set(clientId, text);
    if (this.state === 'live') this.sendChat(clientId, text);
    return clientId;
  }

  sendChat(clientId, text) {
    this.request((id) => v2.chatSend(id, clientId, text), (r) => {
      this.chat.unacked.delete(clientId);
      if (r.code !== 0) this.emit('chatrefused', { clientId, text, code: r.code, reason: r.text, value: r.value });
    });
  }

  get canChat() { return !!(this.welcome?.chat && (this.welcome.permissions & v2.PERMISSION_CHAT)); }
  get chatMaxBytes() { return this.welcome?.chat?.maxBytes ?? 4096; }
  hubNowUs() { return this.clock.now(); }
}

const key = (pid, tid) => `${pid}:${tid}`;
export const trackKey = key;

CallSession.prototype.dispatch = {
  [v2.T.WELCOME]: CallSession.prototype.onWelcome,
  [v2.T.ROOM_SNAPSHOT]: CallSession.prototype.onSnapshot,
  [v2.T.PARTICIPANT_JOINED]: CallSession.prototype.onJoined,
  [v2.T.PARTICIPANT_LEFT]: CallSession.prototype.onLeft,
  [v2.T.TRACK_PUBLISHED]: CallSession.prototype.onTrackPublished,
  [v2.T.TRACK_UNPUBLISHED]: CallSession.prototype.onTrackUnpublished,
  [v2.T.TRACK_STATE]: CallSession.prototype.onTrackState,
  [v2.T.RESULT]: CallSession.prototype.onResult,
  [v2.T.PING]: CallSession.prototype.onPing,
  [v2.T.PONG]: CallSession.prototype.onPong,
  [v2.T.ERROR]: CallSession.prototype.onClosing,
  [v2.T.GOODBYE]: CallSession.prototype.onClosing,
  [v2.T.CHAT_HISTORY]: function onHistory(m) { this.chat.onHistory(m); },
  [v2.T.CHAT_MESSAGE]: function onChat(m) { this.chat.onLive(m.message); },
  [v2.T.FRAME]: function onFrame(m) { this.emit('frame', m); },
  [v2.T.KEYFRAME_REQUEST]: function onKeyframeRequest(m) { this.emit('keyframerequest', m); },
};
