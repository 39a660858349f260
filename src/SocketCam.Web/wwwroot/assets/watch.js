// Watch page: JPEG frames over the room's watch WebSocket, drawn on a canvas (docs/HTTP.md, "WebSockets"). Where
// WebCodecs can decode H.264 the page asks for it (`?codec=h264`): an H.264 room's frames then come as they are, each
// with a 28-byte header saying its codec and whether it is a keyframe, and are decoded by a VideoDecoder.
import { H264Drawer, h264CanDecode } from './call-h264.js';

const HEADER_BYTES = 24;
const CODEC_HEADER_BYTES = 28; // with ?codec=h264: + codec (1 JPEG, 3 H.264), flags (bit 0 keyframe), 2 reserved
const CODEC_H264 = 3;
const TICK_MS = 1000;          // ping + stats
const UI_MS = 250;
const WINDOW_MS = 2000;        // fps and latency p50 window
const MAX_LATENCIES = 300;
const CLOCK_SAMPLES = 10;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;

const CLOSE_TEXT = {
  1000: 'closed', 1001: 'server shutting down', 1006: 'connection lost', 1008: 'policy violation',
  1011: 'server error', 4400: 'invalid room name', 4401: 'missing or wrong token', 4404: 'unknown room',
  4409: 'room already has a publisher', 4415: 'room is raw, not JPEG', 4503: 'too many WebSocket clients',
};

import { pageLink } from './access.js';

const room = decodeURIComponent(location.pathname.match(/^\/rooms\/([^/]+)/)?.[1] ?? 'main');
const canvas = document.getElementById('video');
const ctx = canvas.getContext('2d');
const $ = (id) => document.getElementById(id);

const sc = window.socketcam = {
  state: 'connecting', framesDrawn: 0, framesDropped: 0, fps: 0, width: 0, height: 0,
  latencyMs: null, latencies: [], clockOffsetMs: 0, reason: '', codec: null, h264: null,
};

let ws = null;
let backoffMs = BACKOFF_MIN_MS;
let reconnectAt = 0;
let decoding = false;
let pending = null;
let recent = [];               // { t, ms } of frames drawn in the last WINDOW_MS
const clockSamples = [];       // { rtt, offset } of the last CLOCK_SAMPLES pongs
let pingOffsetMs = null;       // from the pong with the shortest round trip
let canH264 = false;           // this browser decodes H.264: the socket asks for it
let headerBytes = HEADER_BYTES; // of this socket's frames: 28 once its hello says it carries H.264 too
let h264 = null;               // the H.264 decoder of this socket's frames
let offsetFloorMs = -Infinity; // the highest lower bound frames' send times gave

// A WebSocket's URL carries no token: the page's cookie (access.js) presents it.
const withToken = (path) => path;

const roomPath = '/rooms/' + encodeURIComponent(room);
const epochMs = () => performance.timeOrigin + performance.now();

function setState(state, reason = '') {
  sc.state = state;
  sc.reason = reason;
  render();
}

function connect() {
  setState('connecting');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${scheme}//${location.host}${withToken(roomPath + '/ws')}${canH264 ? '?codec=h264' : ''}`);
  headerBytes = HEADER_BYTES;
  h264?.close();
  h264 = null;
  socket.binaryType = 'arraybuffer';
  ws = socket;
  const timer = setInterval(() => tick(socket), TICK_MS);
  socket.onopen = () => sendPing(socket);
  socket.onmessage = (event) => {
    if (typeof event.data === 'string') onText(event.data);
    else onFrame(event.data);
  };
  socket.onclose = (event) => {
    clearInterval(timer);
    if (ws === socket) scheduleReconnect(event);
  };
}

function scheduleReconnect(event) {
  ws = null;
  const why = event.reason || CLOSE_TEXT[event.code] || 'closed';
  reconnectAt = performance.now() + backoffMs;
  setTimeout(connect, backoffMs);
  backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
  if (event.code === 4404) {
    // Nobody publishes to this room yet (the hub makes a room when its publisher comes): nothing is broken, the page
    // waits for it. The hub's reason ends with the rooms it has, "(rooms: 'main')" or "(no rooms yet)": keep that part.
    const rooms = /\(([^()]*)\)$/.exec(event.reason || '')?.[1];
    setState('waiting', rooms ? `waiting for ${room} to start (${rooms})` : `waiting for ${room} to start`);
    return;
  }
  setState('disconnected', `${why} (code ${event.code})`);
}

function onText(text) {
  let msg;
  try { msg = JSON.parse(text); } catch { return; }
  if (msg.type === 'signal') {
    if (msg.live) setState('live');
    else setState('nosignal', msg.reason || 'no signal');
  } else if (msg.type === 'hello') {
    headerBytes = String(msg.codecs ?? '').split(',').includes('h264') ? CODEC_HEADER_BYTES : HEADER_BYTES;
    if (msg.publishing === false && sc.state === 'connecting') setState('waiting', `waiting for ${room} to start`);
  } else if (msg.type === 'pong') {
    onPong(msg);
  }
}

// NTP style: the sample with the shortest round trip has the smallest error.
function onPong({ t, serverTime }) {
  if (typeof t !== 'number' || typeof serverTime !== 'number') return;
  const now = epochMs();
  clockSamples.push({ rtt: now - t, offset: serverTime / 1000 - (t + now) / 2 });
  if (clockSamples.length > CLOCK_SAMPLES) clockSamples.shift();
  pingOffsetMs = clockSamples.reduce((best, s) => (s.rtt < best.rtt ? s : best)).offset;
  updateOffset();
}

// Causality: a frame cannot arrive before the server sent it, so its send time bounds the offset from below. This keeps
// a pong answered late (behind a frame, on a busy machine) from making latencies look negative.
function noteSendTime(buffer) {
  if (buffer.byteLength <= headerBytes) return;
  const sendMs = Number(new DataView(buffer).getBigInt64(8, true)) / 1000;
  offsetFloorMs = Math.max(offsetFloorMs, sendMs - epochMs());
  updateOffset();
}

function updateOffset() {
  const estimate = pingOffsetMs ?? offsetFloorMs;
  if (Number.isFinite(estimate)) sc.clockOffsetMs = Math.max(estimate, offsetFloorMs);
}

// Newest wins: while a decode runs only the newest message waits; a replaced one is dropped.
function onFrame(buffer) {
  noteSendTime(buffer);
  if (buffer.byteLength > headerBytes && headerBytes === CODEC_HEADER_BYTES && new Uint8Array(buffer)[24] === CODEC_H264) {
    return onH264(buffer);
  }
  if (decoding) {
    if (pending) sc.framesDropped++;
    pending = buffer;
    return;
  }
  decodeLoop(buffer);
}

async function decodeLoop(buffer) {
  decoding = true;
  while (buffer) {
    try {
      await drawFrame(buffer);
    } catch {
      sc.framesDropped++; // an undecodable JPEG: skip it, keep the last picture
    }
    buffer = pending;
    pending = null;
  }
  decoding = false;
}

// H.264 cannot skip to the newest frame: every frame goes to the decoder (which starts at a keyframe and starts again at
// the next one after a gap or an error); its pictures are drawn as they come out.
function onH264(buffer) {
  const view = new DataView(buffer);
  h264 ??= new H264Drawer(canvas, ({ captureUs }) => recordFrame(Number(captureUs), canvas.width, canvas.height), () => false);
  sc.codec = 'h264';
  h264.push({
    captureUs: view.getBigInt64(0, true), sequence: BigInt(view.getUint32(16, true)), flags: view.getUint8(25),
    data: new Uint8Array(buffer, CODEC_HEADER_BYTES),
  });
  sc.h264 = { ...h264.stats };
}

async function drawFrame(buffer) {
  if (buffer.byteLength <= headerBytes) return;
  sc.codec = 'jpeg';
  const captureUs = Number(new DataView(buffer).getBigInt64(0, true));
  const blob = new Blob([new Uint8Array(buffer, headerBytes)], { type: 'image/jpeg' });
  const bitmap = await createImageBitmap(blob);
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  recordFrame(captureUs, canvas.width, canvas.height);
}

function recordFrame(captureUs, width, height) {
  const latency = epochMs() + sc.clockOffsetMs - captureUs / 1000;
  sc.latencies.push(latency);
  if (sc.latencies.length > MAX_LATENCIES) sc.latencies.shift();
  recent.push({ t: performance.now(), ms: latency });
  sc.framesDrawn++;
  sc.width = width;
  sc.height = height;
  backoffMs = BACKOFF_MIN_MS;
  if (sc.state === 'connecting' || sc.state === 'waiting') setState('live');
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null;
}

function measure() {
  const since = performance.now() - WINDOW_MS;
  recent = recent.filter((s) => s.t >= since);
  const sorted = recent.map((s) => s.ms).sort((a, b) => a - b);
  sc.fps = recent.length / (WINDOW_MS / 1000);
  sc.latencyMs = percentile(sorted, 0.5) ?? sc.latencyMs;
  return percentile(sorted, 0.99);
}

function sendPing(socket) {
  socket.send(JSON.stringify({ type: 'ping', t: epochMs() }));
}

function tick(socket) {
  if (socket.readyState !== WebSocket.OPEN) return;
  sendPing(socket);
  const p99 = measure();
  socket.send(JSON.stringify({
    type: 'stats', fps: sc.fps, latencyMs: sc.latencyMs ?? 0, latencyP99Ms: p99 ?? 0,
    framesDrawn: sc.framesDrawn, framesDropped: sc.framesDropped, width: sc.width, height: sc.height,
  }));
}

function overlayText() {
  switch (sc.state) {
    case 'connecting': return 'connecting…';
    case 'nosignal': return `NO SIGNAL: ${sc.reason}`;
    case 'waiting': return sc.reason;
    case 'disconnected': {
      const seconds = Math.max(0, (reconnectAt - performance.now()) / 1000);
      return `disconnected: ${sc.reason} — retrying in ${seconds.toFixed(1)} s`;
    }
    default: return '';
  }
}

function render() {
  const text = overlayText();
  $('overlay').textContent = text;
  $('overlay').hidden = !text;
  $('state').textContent = { nosignal: 'no signal', disconnected: 'disconnected', waiting: 'waiting for the publisher' }[sc.state] ?? sc.state;
  $('state').className = { live: 'ok', nosignal: 'bad', disconnected: 'bad' }[sc.state] ?? 'warn';
  $('fps-text').textContent = `${sc.fps.toFixed(1)} fps`;
  $('latency-text').textContent = sc.latencyMs === null ? 'latency –' : `latency ${Math.round(sc.latencyMs)} ms`;
  $('size-text').textContent = sc.width ? `${sc.width}×${sc.height}` : '–';
  // Viewers do not know "dropped": say what happened and why (the element's title explains more).
  const skipped = sc.framesDropped;
  $('dropped-text').textContent = skipped === 0 ? 'no frames skipped'
    : `skipped ${skipped} frame${skipped === 1 ? '' : 's'} to stay live`;
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else $('player').requestFullscreen?.().catch(() => {});
}

function init() {
  document.title = `${room} — SocketCam`;
  $('room').textContent = room;
  $('home').href = pageLink('/');
  $('publish-link').href = pageLink(roomPath + '/publish');
  $('fullscreen').addEventListener('click', toggleFullscreen);
  document.addEventListener('fullscreenchange', () => {
    $('fullscreen').textContent = document.fullscreenElement ? 'Exit fullscreen' : 'Fullscreen';
  });
  setInterval(() => { measure(); render(); }, UI_MS);
  h264CanDecode().then((yes) => { canH264 = yes && new URLSearchParams(location.search).get('codec') !== 'jpeg'; }).finally(connect);
}

init();
