// Publish page: the browser's camera, scaled to the chosen size, encoded to JPEG and sent over the publish WebSocket.
const PING_MS = 1000;
const UI_MS = 250;
const WINDOW_MS = 2000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;
const SECURE_CONTEXT_TEXT = 'The camera needs a secure context: open this page via https:// or http://localhost.';

const CLOSE_TEXT = {
  1000: 'closed', 1001: 'server shutting down', 1003: 'not a JPEG', 1006: 'connection lost', 1008: 'idle too long',
  1009: 'frame too large', 1011: 'server error', 4400: 'invalid room name', 4401: 'missing or wrong token',
  4409: 'the room already has a publisher', 4415: 'the room is raw, not JPEG', 4503: 'too many WebSocket clients',
};

import { pageLink } from './access.js';

const room = decodeURIComponent(location.pathname.match(/^\/rooms\/([^/]+)/)?.[1] ?? 'main');
const roomPath = '/rooms/' + encodeURIComponent(room);
const $ = (id) => document.getElementById(id);
const preview = $('preview');

const sc = window.socketcam = { state: 'idle', framesSent: 0, fps: 0, width: 0, height: 0, bytesSent: 0, reason: '' };

let session = 0;               // bumped by Start and Stop: stale async continuations see a different value and quit
let stream = null;
let ws = null;
let surface = null;            // { canvas, ctx, encode } at the chosen size
let loopTimer = 0;
let nextTickAt = 0;
let encoding = false;
let skipped = 0;
let viewers = null;
let rttMs = null;
let maxFrameBytes = Infinity;
let backoffMs = BACKOFF_MIN_MS;
let sentTimes = [];

// A WebSocket's URL carries no token: the page's cookie (access.js) presents it.
const withToken = (path) => path;

const epochMs = () => performance.timeOrigin + performance.now();

function chosen() {
  const [width, height] = $('size').value.split('x').map(Number);
  const fps = Math.min(60, Math.max(1, Number($('fps').value) || 15));
  return { width, height, fps, quality: Number($('quality').value) };
}

function setState(state, reason = '') {
  sc.state = state;
  sc.reason = reason;
  $('start').textContent = state === 'starting' || state === 'live' ? 'Stop' : 'Start';
  render();
}

async function start() {
  if (!navigator.mediaDevices?.getUserMedia) return setState('error', SECURE_CONTEXT_TEXT);
  const mine = ++session;
  const { width, height, fps } = chosen();
  setState('starting', 'asking for the camera');
  let media;
  try {
    media = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: fps } }, audio: false,
    });
  } catch (err) {
    if (mine === session) setState('error', `camera: ${err.name}: ${err.message}`);
    return;
  }
  if (mine !== session) return media.getTracks().forEach((t) => t.stop());
  stream = media;
  stream.getVideoTracks()[0]?.addEventListener('ended', () => stop('error', 'the camera stopped'));
  preview.srcObject = stream;
  preview.play().catch(() => {});
  backoffMs = BACKOFF_MIN_MS;
  openSocket(mine);
}

function stop(state = 'stopped', reason = '') {
  session++;
  stopLoop();
  if (ws) ws.close(1000, 'stopped');
  ws = null;
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  preview.srcObject = null;
  setState(state, reason);
}

function openSocket(mine) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${scheme}//${location.host}${withToken(roomPath + '/publish/ws')}`);
  socket.binaryType = 'arraybuffer';
  ws = socket;
  const pinger = setInterval(() => ping(socket), PING_MS);
  socket.onopen = () => ping(socket);
  socket.onmessage = (event) => {
    if (ws === socket && typeof event.data === 'string') onText(event.data);
  };
  socket.onclose = (event) => {
    clearInterval(pinger);
    if (ws === socket && mine === session) onClosed(event, mine);
  };
}

// Refusals (4xxx), bad data (1003) and oversize frames (1009) would only repeat: stop. Anything else retries.
function onClosed(event, mine) {
  ws = null;
  stopLoop();
  const why = `${event.reason || CLOSE_TEXT[event.code] || 'closed'} (code ${event.code})`;
  const refused = event.code === 1003 || event.code === 1009 || (event.code >= 4000 && event.code < 5000);
  const cameraRunning = stream?.getVideoTracks().some((t) => t.readyState === 'live');
  if (refused || !cameraRunning) return stop(refused ? 'error' : 'stopped', why);
  setState('starting', `${why}; reconnecting in ${(backoffMs / 1000).toFixed(1)} s`);
  setTimeout(() => { if (mine === session) openSocket(mine); }, backoffMs);
  backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
}

function ping(socket) {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'ping', t: epochMs() }));
}

function onText(text) {
  let msg;
  try { msg = JSON.parse(text); } catch { return; }
  if (msg.type === 'hello') onHello(msg);
  else if (msg.type === 'stats') {
    viewers = msg.viewers;
    backoffMs = BACKOFF_MIN_MS;
  } else if (msg.type === 'pong' && typeof msg.t === 'number') rttMs = epochMs() - msg.t;
}

// A refused socket is accepted and closed at once, without a hello: only the hello means the seat is ours.
function onHello(msg) {
  if (msg.maxFrameBytes > 0) maxFrameBytes = msg.maxFrameBytes;
  setState('live');
  startLoop();
}

function makeSurface(width, height) {
  if (typeof OffscreenCanvas === 'function') {
    const canvas = new OffscreenCanvas(width, height);
    return { canvas, ctx: canvas.getContext('2d'), encode: (opts) => canvas.convertToBlob(opts) };
  }
  const canvas = Object.assign(document.createElement('canvas'), { width, height });
  const encode = (opts) => new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('toBlob failed'))), opts.type, opts.quality));
  return { canvas, ctx: canvas.getContext('2d'), encode };
}

function startLoop() {
  stopLoop();
  const { width, height } = chosen();
  surface = makeSurface(width, height);
  sc.width = width;
  sc.height = height;
  nextTickAt = performance.now();
  tick();
}

function stopLoop() {
  clearTimeout(loopTimer);
  loopTimer = 0;
}

// Paced by the chosen fps; a late tick does not try to catch up.
function tick() {
  const now = performance.now();
  nextTickAt = Math.max(nextTickAt + 1000 / chosen().fps, now);
  loopTimer = setTimeout(tick, nextTickAt - now);
  if (!ws || ws.readyState !== WebSocket.OPEN || preview.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) return;
  // One frame in flight at most: a busy encoder or an unsent frame means this tick is skipped (newest wins).
  if (encoding || ws.bufferedAmount > 0) {
    skipped++;
    return;
  }
  sendFrame(ws, surface);
}

async function sendFrame(socket, target) {
  encoding = true;
  try {
    drawCover(target);
    const blob = await target.encode({ type: 'image/jpeg', quality: chosen().quality });
    const buffer = await blob.arrayBuffer();
    if (socket !== ws || socket.readyState !== WebSocket.OPEN) return;
    if (buffer.byteLength > maxFrameBytes) {
      skipped++;
      return;
    }
    socket.send(buffer);
    sc.framesSent++;
    sc.bytesSent += buffer.byteLength;
    sentTimes.push(performance.now());
  } catch {
    skipped++;
  } finally {
    encoding = false;
  }
}

// Scales the camera picture to cover the whole target (centred crop, no distortion): viewers get exactly W x H.
function drawCover({ canvas, ctx }) {
  const vw = preview.videoWidth;
  const vh = preview.videoHeight;
  const scale = Math.max(canvas.width / vw, canvas.height / vh);
  const sw = canvas.width / scale;
  const sh = canvas.height / scale;
  ctx.drawImage(preview, (vw - sw) / 2, (vh - sh) / 2, sw, sh, 0, 0, canvas.width, canvas.height);
}

function applySettings(resize) {
  const { width, height, fps } = chosen();
  $('quality-value').textContent = chosen().quality.toFixed(2);
  const track = stream?.getVideoTracks()[0];
  track?.applyConstraints({ width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: fps } }).catch(() => {});
  if (resize && loopTimer) startLoop();
}

function formatBytes(n) {
  if (n < 1e6) return `${(n / 1e3).toFixed(0)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

function render() {
  const since = performance.now() - WINDOW_MS;
  sentTimes = sentTimes.filter((t) => t >= since);
  sc.fps = sentTimes.length / (WINDOW_MS / 1000);
  const parts = [sc.state + (sc.reason ? `: ${sc.reason}` : '')];
  if (sc.state === 'live') {
    parts.push(`${sc.fps.toFixed(1)} fps`, `${sc.width}×${sc.height}`, `${sc.framesSent} frames`,
      formatBytes(sc.bytesSent), `skipped ${skipped}`);
    if (viewers !== null) parts.push(`${viewers} viewer${viewers === 1 ? '' : 's'}`);
    if (rttMs !== null) parts.push(`rtt ${rttMs.toFixed(0)} ms`);
  }
  $('status').textContent = parts.join(' · ');
  $('status').className = 'status ' + ({ live: 'ok', error: 'bad' }[sc.state] ?? 'muted');
}

function init() {
  document.title = `Publish ${room} — SocketCam`;
  $('room').textContent = room;
  $('home').href = pageLink('/');
  $('watch-link').href = pageLink(roomPath);
  $('start').addEventListener('click', () => (sc.state === 'starting' || sc.state === 'live' ? stop() : start()));
  $('size').addEventListener('change', () => applySettings(true));
  $('fps').addEventListener('change', () => applySettings(false));
  $('quality').addEventListener('input', () => applySettings(false));
  if (!navigator.mediaDevices?.getUserMedia) setState('idle', SECURE_CONTEXT_TEXT);
  setInterval(render, UI_MS);
}

init();
