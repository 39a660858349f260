// The call page (/call/ROOM): a name and a camera preview, then a grid of everyone else, your own camera small, a screen
// share, everyone's voice (Opus, call-audio.js), the people in the room and the chat; all over one protocol v2 WebSocket
// (call-session.js). Everything that comes from the network (names, chat text, reasons) goes into the page as text
// nodes, never as markup.
import { CallSession, trackKey } from './call-session.js';
import { FrameDrawer, FrameSender, openCamera, openScreen, screenSize } from './call-media.js';
import { AudioPlayout, MIC, MicSender, encoderConfig, meterOf, openMicrophone } from './call-audio.js';
import { H264Drawer, H264Sender, LATENCY_SAMPLES, h264CanDecode, h264EncoderConfig, latencySummary } from './call-h264.js';
import { SOURCE, KIND_VIDEO, KIND_AUDIO, CODEC_JPEG, CODEC_H264, CODEC_OPUS, codeName, cleanName, cleanChatText } from './v2.js';

const params = new URLSearchParams(location.search);
import { token, pageLink } from './access.js';
const room = decodeURIComponent(location.pathname.match(/^\/call\/([^/]+)/)?.[1] ?? 'main');
const [camWidth, camHeight] = (params.get('size') ?? '640x360').split('x').map(Number);
const camFps = Math.min(60, Math.max(1, Number(params.get('fps')) || 20));
const CAMERA = { trackId: 1, source: SOURCE.CAMERA, width: camWidth, height: camHeight, fps: camFps, name: 'camera' };
const SCREEN_TRACK = 2;
const SCREEN_FPS = 10;
const NAME_KEY = 'socketcam.name';
const MAX_LATENCIES = 5000;
const TOAST_MS = 4000;
const AUDIO_TICK_MS = 100;

const $ = (id) => document.getElementById(id);

// Data URLs carry no token: the page's cookie (access.js) presents it; JOIN carries it too.
const withToken = (path) => path;

function wsUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${withToken(path)}`;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'icon');
  const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
  use.setAttribute('href', '#i-' + name);
  svg.append(use);
  return svg;
}

function setIcon(button, name) {
  button.querySelector('use').setAttribute('href', '#i-' + name);
}

function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => Array.from(w)[0] ?? '').join('');
  return (letters || '?').toUpperCase();
}

function hue(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return h;
}

/** An initials avatar (a coloured circle); the name only ever as text. */
function fillAvatar(avatar, name) {
  avatar.textContent = initials(name);
  avatar.style.setProperty('--hue', String(hue(name)));
}

const timeOf = (us) => new Date(Number(us) / 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const displayName = (p) => p.name || `participant-${p.id}`;

// --- what tests and scripts read ---

const sc = window.socketcam = {
  state: 'idle', reason: '', room, participantId: 0, participants: [], tiles: {}, chat: [], lastChatSeq: 0,
  reconnects: 0, notices: [], refusals: [], latencies: [], framesSent: 0, clockOffsetUs: 0,
  latencyP50Us: () => percentile(sc.latencies, 0.5),
  latencyP99Us: () => percentile(sc.latencies, 0.99),
};

function percentile(samples, p) {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// --- local media ---

const media = { camera: null, cameraSender: null, cameraWanted: true, screen: null, screenSender: null };
let session = null;

// The camera's codec: H.264 where this browser's WebCodecs can encode it (`?codec=jpeg` asks for JPEG anyway), else
// JPEG; and whether the others' H.264 can be shown here. Screen shares stay JPEG (a still screen is cheap as JPEG).
const video = { config: null, note: '', canDecode: false, ready: null };
video.ready = (async () => {
  const wanted = params.get('codec') ?? 'auto';
  const [encoding, canDecode] = await Promise.all([
    wanted === 'jpeg' ? { config: null, reason: 'JPEG was asked for (?codec=jpeg)' } : h264EncoderConfig(CAMERA),
    h264CanDecode(),
  ]);
  video.config = encoding.config;
  video.note = encoding.reason;
  video.canDecode = canDecode;
  if (session) render();
})();

/** The camera track as published: H.264 with its bitrate when the encoder is there, else JPEG. */
const cameraDesc = () => (video.config
  ? { ...CAMERA, codec: CODEC_H264, bitrate: video.config.bitrate }
  : { ...CAMERA, codec: CODEC_JPEG });

async function startCamera() {
  try {
    media.camera = await openCamera(CAMERA);
  } catch (err) {
    media.camera = null;
    $('join-status').textContent = `No camera (${err.name}): you can still join and chat.`;
  }
  media.camera?.getVideoTracks()[0]?.addEventListener('ended', () => setCamera(false));
  showOwnVideo();
  return !!media.camera;
}

function stopCamera() {
  media.cameraSender?.stop();
  media.cameraSender = null;
  media.camera?.getTracks().forEach((t) => t.stop());
  media.camera = null;
  showOwnVideo();
}

function showOwnVideo() {
  const on = !!media.camera;
  for (const id of ['preview', 'self-video']) {
    $(id).srcObject = media.camera;
    $(id).hidden = !on;
  }
  $('preview-off').hidden = on;
  $('self-avatar').hidden = on;
  for (const id of ['preview-cam', 'cam']) {
    $(id).setAttribute('aria-pressed', String(on));
    $(id).title = on ? 'Turn camera off' : 'Turn camera on';
    $(id).classList.toggle('off', !on);
    setIcon($(id), on ? 'cam' : 'cam-off');
  }
}

function sendCamera() {
  if (!media.camera || !session) return;
  media.cameraSender?.stop();
  const published = session.local.get(CAMERA.trackId)?.desc.codec;
  if (video.config && published === CODEC_H264) {
    media.cameraSender = new H264Sender(media.camera, video.config, {
      ready: (bytes) => session.canSend(CAMERA.trackId, bytes),
      send: (data, w, h, captureUs, key) => session.sendEncoded(CAMERA.trackId, data, w, h, captureUs, key) && ++sc.framesSent,
      captureUs: () => session.hubNowUs(),
      failed: h264Failed,
    });
  } else {
    media.cameraSender = new FrameSender(media.camera, CAMERA, senderHooks(CAMERA.trackId));
  }
}

/** The encoder broke (not merely a missing feature): the camera goes on as JPEG, published again under its id. */
function h264Failed(reason) {
  video.config = null;
  video.note = reason;
  toast(`Your camera is sent as JPEG: ${reason}`);
  if (!session?.local.has(CAMERA.trackId)) return;
  session.unpublishTrack(CAMERA.trackId);
  session.publishTrack(cameraDesc(), !!media.camera, 'camera off');
  sendCamera();
}

function onKeyframeRequest(m) {
  if (m.trackId === CAMERA.trackId) media.cameraSender?.requestKeyframe?.();
}

function senderHooks(trackId) {
  return {
    ready: (bytes) => session.canSend(trackId, bytes),
    send: (jpeg, w, h, captureUs) => session.sendFrame(trackId, jpeg, w, h, captureUs) && ++sc.framesSent,
    captureUs: () => session.hubNowUs(),
  };
}

async function setCamera(on) {
  media.cameraWanted = on;
  if (!on) {
    stopCamera();
    session?.setTrackLive(CAMERA.trackId, false, 'camera off');
    return render();
  }
  if (!(await startCamera())) return render();
  await video.ready;
  if (session && !session.local.has(CAMERA.trackId)) session.publishTrack(cameraDesc());
  session?.setTrackLive(CAMERA.trackId, true);
  sendCamera();
  render();
}

async function setScreen(on) {
  if (!on) return stopScreen();
  let stream;
  try {
    stream = await openScreen({ fps: SCREEN_FPS });
  } catch (err) {
    if (err.name !== 'NotAllowedError') toast(`Cannot share the screen: ${err.message}`);
    return;
  }
  media.screen = stream;
  stream.getVideoTracks()[0]?.addEventListener('ended', stopScreen);
  const size = screenSize(stream, 1280, 720);
  const desc = { trackId: SCREEN_TRACK, source: SOURCE.SCREEN, ...size, fps: SCREEN_FPS, name: 'screen' };
  session.publishTrack(desc);
  media.screenSender = new FrameSender(stream, { ...desc, fit: 'contain' }, senderHooks(SCREEN_TRACK));
  render();
}

function stopScreen() {
  media.screenSender?.stop();
  media.screenSender = null;
  media.screen?.getTracks().forEach((t) => t.stop());
  if (media.screen) session?.unpublishTrack(SCREEN_TRACK);
  media.screen = null;
  render();
}

// --- the microphone and everyone's sound ---

// state: 'starting', 'on', 'none' (no microphone, refused, or no secure context), 'unsupported' (no Opus encoder here).
const audio = {
  playout: new AudioPlayout({ hubOffsetUs: () => session?.clock.offsetUs ?? 0 }), mic: null, muted: params.get('mic') === 'off', state: 'starting', note: '',
  mutedPeople: new Set(), starting: null,
};

function micWords(err) {
  const rest = 'you can still join; the others will not hear you.';
  if (err.name === 'NotAllowedError' || err.name === 'SecurityError') return `Microphone access was refused: ${rest}`;
  if (err.name === 'NotFoundError' || err.name === 'OverconstrainedError') return `No microphone found: ${rest}`;
  if (err.name === 'NotReadableError') return `The microphone is in use by another program: ${rest}`;
  return `No microphone (${err.name}): ${rest}`;
}

function micUnavailable(state, note) {
  audio.state = state;
  audio.note = note;
  renderMic();
  return false;
}

/** Opens the microphone and its Opus encoder once (the call goes on without them, saying why). */
function startMicrophone() {
  audio.starting ??= openMicrophoneOnce().finally(() => { audio.starting = null; });
  return audio.starting;
}

async function openMicrophoneOnce() {
  if (audio.mic) return true;
  if (!navigator.mediaDevices?.getUserMedia) {
    return micUnavailable('none', 'The microphone needs a secure context (https:// or http://localhost): the others will not hear you.');
  }
  const { config, reason } = await encoderConfig();
  let stream;
  try {
    stream = await openMicrophone();
  } catch (err) {
    return micUnavailable('none', micWords(err));
  }
  const input = stream.getAudioTracks()[0];
  if (!input) return micUnavailable('none', 'No microphone found: you can still join; the others will not hear you.');
  if (!config) {
    stream.getTracks().forEach((t) => t.stop());
    return micUnavailable('unsupported', `The others cannot hear you: ${reason}.`);
  }
  const sender = new MicSender(stream, config, {
    send: (packet, samples, captureUs, discontinuity) => !!session?.sendAudio(MIC.trackId, packet, samples, captureUs, discontinuity),
    hubOffsetUs: () => session?.clock.offsetUs ?? 0,
    wanted: () => !!session?.local.get(MIC.trackId)?.published,
    context: audio.playout.context,
    capture: params.get('audiocapture') ?? 'auto', // 'worklet': the AudioWorklet capture even where a track processor exists
  });
  sender.setMuted(audio.muted);
  audio.mic = sender;
  input.addEventListener('ended', () => {
    stopMicrophone();
    micUnavailable('none', 'The microphone was disconnected: the others no longer hear you.');
  });
  audio.state = 'on';
  audio.note = '';
  if (!(await sender.start())) audio.captureWaits = true; // the worklet capture needs the Join click's AudioContext
  if (session && document.body.dataset.screen === 'call' && !session.local.has(MIC.trackId)) session.publishTrack(MIC, !audio.muted, 'muted');
  renderMic();
  return true;
}

function stopMicrophone() {
  audio.mic?.stop();
  audio.mic = null;
  session?.unpublishTrack(MIC.trackId);
}

/** The Join (or Rejoin) click: the one user gesture that may start sound. */
function startSound() {
  const ready = audio.playout.start();
  ready.then(async () => {
    if (audio.captureWaits && audio.mic) {
      audio.mic.context = audio.playout.context;
      audio.captureWaits = !(await audio.mic.start());
    }
    renderMic();
  });
}

function setMicMuted(muted) {
  audio.muted = muted;
  audio.mic?.setMuted(muted);
  session?.setTrackLive(MIC.trackId, !muted, 'muted');
  renderMic();
}

function micTitle() {
  if (audio.state === 'starting') return 'Opening the microphone…';
  if (audio.state !== 'on') return audio.note;
  return audio.muted ? 'Unmute your microphone' : 'Mute your microphone';
}

function renderMic() {
  const on = audio.state === 'on' && !audio.muted;
  for (const id of ['preview-mic', 'mic']) {
    const button = $(id);
    button.setAttribute('aria-pressed', String(on));
    button.classList.toggle('off', audio.state === 'on' && audio.muted);
    button.classList.toggle('unavailable', audio.state === 'none' || audio.state === 'unsupported');
    button.disabled = audio.state !== 'on';
    button.title = micTitle();
    button.setAttribute('aria-label', micTitle());
    setIcon(button, on || audio.state === 'starting' ? 'mic' : 'mic-off');
  }
  $('mic-status').textContent = audio.note;
  const self = $('self');
  self.classList.toggle('micmuted', audio.state !== 'on' || audio.muted);
  self.querySelector('.name').textContent = audio.state === 'on' ? (audio.muted ? 'You · muted' : 'You') : 'You · no microphone';
  const note = $('audio-note');
  note.textContent = audio.note;
  note.hidden = !audio.note;
  $('sound-on').hidden = soundOnHidden();
}

/** The "Sound is off" button shows in the call while the browser keeps the AudioContext from running. */
const soundOnHidden = () => !audio.playout.context || audio.playout.running || document.body.dataset.screen !== 'call';

/** Every AUDIO_TICK_MS: the meters, who is speaking, and the figures in window.socketcam.audio. */
function audioTick() {
  const level = audio.mic && !audio.muted ? audio.mic.level : 0;
  const meter = `${Math.round(meterOf(audio.mic?.level ?? 0) * 100)}%`;
  for (const id of ['preview-mic', 'mic']) $(id).style.setProperty('--level', meter);
  $('self').classList.toggle('speaking', level > 0.02);
  if (session) {
    for (const tile of tiles.values()) {
      if (tile.screen) continue;
      tile.el.classList.toggle('speaking', audioKeys(tile.participantId).some((k) => audio.playout.speaking(k)));
    }
  }
  if ($('sound-on').hidden !== soundOnHidden()) renderMic();
  sc.audio = audioStats();
}

/** The track keys ("pid:tid") of a participant's audio tracks. */
function audioKeys(participantId) {
  const keys = [];
  for (const t of session?.tracks.values() ?? []) if (t.participantId === participantId && t.kind === KIND_AUDIO) keys.push(trackKey(t.participantId, t.trackId));
  return keys;
}

/** The others' audio tracks: decoders kept for these only, each muted here or not. */
function syncAudio() {
  const keys = new Set();
  for (const t of session.tracks.values()) {
    if (t.kind !== KIND_AUDIO || t.participantId === session.participantId) continue;
    const key = trackKey(t.participantId, t.trackId);
    keys.add(key);
    const muted = audio.mutedPeople.has(t.participantId);
    if (audio.playout.muted.has(key) !== muted) audio.playout.setMuted(key, muted);
  }
  audio.playout.keep(keys);
}

function routeAudio(frame) {
  const track = session.tracks.get(trackKey(frame.participantId, frame.trackId));
  if (!track || track.kind !== KIND_AUDIO || frame.codec !== CODEC_OPUS || track.codec !== CODEC_OPUS) return;
  audio.playout.onFrame(trackKey(frame.participantId, frame.trackId), track, frame);
}

function toggleMutedHere(participantId) {
  if (audio.mutedPeople.has(participantId)) audio.mutedPeople.delete(participantId);
  else audio.mutedPeople.add(participantId);
  syncAudio();
  render();
}

/** Figures for tests and the curious: the microphone, the sound output and every remote audio track. */
function audioStats() {
  const p = audio.playout;
  const mic = audio.mic;
  const tracks = [];
  for (const t of session?.tracks.values() ?? []) {
    if (t.kind !== KIND_AUDIO || t.participantId === session.participantId) continue;
    const key = trackKey(t.participantId, t.trackId);
    const description = { kind: t.kind, codec: t.codec, source: t.source, flags: t.flags, channels: t.channels, rate: t.rate, packetUs: t.packetUs, bitrate: t.bitrate };
    tracks.push({ key, participantId: t.participantId, trackId: t.trackId, name: t.name, live: t.live, description, ...p.trackStats(key) });
  }
  return {
    mic: {
      state: audio.state, note: audio.note, muted: audio.muted, capture: mic?.mode ?? null, level: mic?.level ?? 0,
      codec: mic?.config ? { bitrate: mic.config.bitrate, ...(mic.config.opus ?? {}) } : null,
      ...(mic?.stats ?? { packetsSent: 0, bytesSent: 0 }),
    },
    output: { state: p.context?.state ?? 'none', sampleRate: p.context?.sampleRate ?? 0, baseLatencyMs: (p.context?.baseLatency ?? 0) * 1000, error: p.error, notReady: p.notReady },
    tracks,
  };
}

window.socketcamAudioStats = audioStats;
/** The played level of a participant's (first) audio track per 128-sample quantum, its last ~8 s: { values, quantum, sampleRate }. */
window.socketcamAudioEnvelope = (participantId) => audio.playout.envelope(audioKeys(participantId)[0] ?? '');

/**
 * Figures for tests and the curious: how the camera is sent (codec, frames, keyframes, requests answered, skips) and, per
 * tile, its track's codec, frames decoded and drawn, decode errors, keyframe requests sent and the capture-to-canvas
 * latency (capture µs on the hub's clock to the moment the picture was drawn, through the session's clock offset).
 */
function videoStats() {
  const sender = media.cameraSender;
  const publish = sender instanceof H264Sender ? { ...sender.stats }
    : { codec: sender ? 'jpeg' : null, framesSent: sender?.sent ?? 0, skipped: sender?.skipped ?? 0 };
  Object.assign(publish, { note: video.note, canDecodeH264: video.canDecode });
  const tracks = [];
  for (const tile of tiles.values()) {
    const t = tile.track;
    const h = tile.h264?.stats;
    const codec = !t ? null : t.codec === CODEC_H264 ? 'h264' : t.codec === CODEC_JPEG ? 'jpeg' : `codec-${t.codec}`;
    tracks.push({
      ...(h ?? {}), participantId: tile.participantId, trackId: t?.trackId ?? null, screen: tile.screen, codec,
      framesDecoded: h ? h.framesDecoded : tile.drawer.frames, framesDrawn: tile.drawer.frames + (tile.h264?.frames ?? 0),
      decodeErrors: h?.decodeErrors ?? 0, keyframeRequestsSent: h?.keyframeRequestsSent ?? 0, jpegDropped: tile.drawer.dropped,
      latency: latencySummary(tile.latencies), note: tile.note.textContent,
    });
  }
  return { publish, tracks, latency: latencySummary(sc.latencies) };
}

window.socketcamVideoStats = videoStats;

// --- tiles: one per other participant (its camera), one per screen share ---

const tiles = new Map(); // key -> { el, canvas, drawer, participantId, hasFrame }

function makeTile(key, participantId, screen) {
  const figure = el('figure', 'tile novideo' + (screen ? ' screen' : ''));
  figure.dataset.key = key;
  figure.dataset.participant = String(participantId);
  const canvas = el('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const caption = el('figcaption', 'label');
  const camIcon = icon('cam-off');
  camIcon.classList.add('cam-icon');
  const micIcon = icon('mic-off');
  micIcon.classList.add('mic-icon');
  caption.append(camIcon, micIcon, el('span', 'name'));
  const note = el('p', 'tile-note');
  note.hidden = true;
  figure.append(canvas, el('div', 'avatar'), note, caption);
  if (!screen) {
    const mute = el('button', 'round small tile-mute');
    mute.type = 'button';
    mute.append(icon('speaker'));
    mute.addEventListener('click', () => toggleMutedHere(participantId));
    figure.append(mute);
  }
  const tile = { el: figure, canvas, note, participantId, hasFrame: false, screen, h264: null, latencies: [] };
  tile.drawer = new FrameDrawer(canvas, (frame) => onDrawn(tile, frame));
  return tile;
}

/** The tile's H.264 decoder, for its current track (a new track, or none, closes the old one). */
function h264Of(tile, frame) {
  const key = trackKey(frame.participantId, frame.trackId);
  if (tile.h264?.key === key) return tile.h264;
  tile.h264?.close();
  tile.h264 = new H264Drawer(tile.canvas, (f) => onDrawn(tile, f), () => session.requestKeyframe(frame.participantId, frame.trackId));
  tile.h264.key = key;
  return tile.h264;
}

function onDrawn(tile, frame) {
  const latency = session.hubNowUs() - Number(frame.captureUs);
  sc.latencies.push(latency);
  if (sc.latencies.length > MAX_LATENCIES) sc.latencies.splice(0, sc.latencies.length - MAX_LATENCIES);
  tile.latencies.push(latency);
  if (tile.latencies.length > LATENCY_SAMPLES) tile.latencies.shift();
  if (!tile.screen) sc.tiles[tile.participantId] = tile.drawer.frames + (tile.h264?.frames ?? 0);
  if (!tile.hasFrame) {
    tile.hasFrame = true;
    tile.el.classList.remove('novideo');
  }
}

function primaryTrack(participantId) {
  let best = null;
  for (const t of session.tracks.values()) {
    if (t.participantId === participantId && t.kind === KIND_VIDEO && t.source !== SOURCE.SCREEN && (!best || t.trackId < best.trackId)) best = t;
  }
  return best;
}

function wantedTiles() {
  const wanted = new Map();
  for (const p of session.participants.values()) {
    if (p.id !== session.participantId) wanted.set(`p:${p.id}`, { p, track: primaryTrack(p.id), screen: false });
  }
  for (const t of session.tracks.values()) {
    const p = session.participants.get(t.participantId);
    if (p && t.participantId !== session.participantId && t.source === SOURCE.SCREEN) {
      wanted.set(`s:${trackKey(t.participantId, t.trackId)}`, { p, track: t, screen: true });
    }
  }
  return wanted;
}

function syncTiles() {
  const wanted = wantedTiles();
  for (const [key, tile] of tiles) {
    if (!wanted.has(key)) {
      tile.h264?.close();
      tile.el.remove();
      tiles.delete(key);
      if (!tile.screen) delete sc.tiles[tile.participantId];
    }
  }
  for (const [key, want] of wanted) updateTile(key, want);
  const grid = $('grid');
  [...tiles.values()].sort(tileOrder).forEach((t) => grid.append(t.el));
  placeSelf();
  syncAudio();
  $('alone').hidden = tiles.size > 0 || session.state !== 'live';
  $('stage').classList.toggle('solo', tiles.size === 0);
  layoutGrid();
}

const tileOrder = (a, b) => a.participantId - b.participantId || Number(b.screen) - Number(a.screen);

function updateTile(key, { p, track, screen }) {
  let tile = tiles.get(key);
  if (!tile) {
    tile = makeTile(key, p.id, screen);
    tiles.set(key, tile);
    if (!screen) sc.tiles[p.id] = 0;
  }
  if (tile.track !== track && tile.h264) {
    tile.h264.close();
    tile.h264 = null;
  }
  tile.track = track;
  const cannot = track?.codec === CODEC_H264 && !video.canDecode;
  tile.note.textContent = cannot ? 'This browser cannot decode H.264 video.' : '';
  tile.note.hidden = !cannot;
  tile.el.classList.toggle('undecodable', cannot);
  const name = displayName(p);
  tile.el.querySelector('.name').textContent = screen ? `${name} (screen)` : name;
  fillAvatar(tile.el.querySelector('.avatar'), name);
  const live = !!track?.live;
  if (!live) tile.hasFrame = false;
  tile.el.classList.toggle('novideo', !(live && tile.hasFrame));
  tile.el.classList.toggle('camoff', !screen && !live);
  tile.el.title = track && !track.live && track.text ? `${name}: ${track.text}` : name;
  if (screen) return;
  const voices = [...session.tracks.values()].filter((t) => t.participantId === p.id && t.kind === KIND_AUDIO);
  const voice = voices.some((t) => t.live) ? 'on' : voices.length ? 'muted' : 'none';
  tile.el.dataset.audio = voice;
  tile.el.classList.toggle('micmuted', voice !== 'on');
  tile.el.querySelector('.mic-icon').dataset.tip = voice === 'muted' ? 'muted' : 'no microphone';
  const here = audio.mutedPeople.has(p.id);
  tile.el.classList.toggle('mutedhere', here);
  const mute = tile.el.querySelector('.tile-mute');
  mute.setAttribute('aria-pressed', String(here));
  mute.title = here ? `Unmute ${name} for you` : `Mute ${name} for you`;
  mute.setAttribute('aria-label', mute.title);
  setIcon(mute, here ? 'speaker-off' : 'speaker');
}

function routeFrame(frame) {
  if (frame.kind === KIND_AUDIO) return routeAudio(frame);
  const track = session.tracks.get(trackKey(frame.participantId, frame.trackId));
  if (!track || !track.live) return;
  const key = track.source === SOURCE.SCREEN ? `s:${trackKey(frame.participantId, frame.trackId)}` : `p:${frame.participantId}`;
  const tile = tiles.get(key);
  if (!tile || tile.track !== track) return;
  if (frame.codec === CODEC_H264) {
    if (video.canDecode) h264Of(tile, frame).push(frame);
  } else if (frame.codec === CODEC_JPEG) {
    tile.drawer.push(frame);
  }
}

/** Your own camera: a small picture-in-picture with one other tile or none; from two on, the last tile of the grid. */
function placeSelf() {
  const self = $('self');
  const inGrid = tiles.size >= 2;
  if (inGrid) $('grid').append(self);
  else if (self.parentElement !== $('stage')) $('stage').append(self);
}

/**
 * Picks the column count that gives the tiles the most area in the stage, each tile between `minAspect` and 16:9 (the
 * picture is cropped to fill it; a screen share is letterboxed instead), then sizes them.
 */
function layoutGrid() {
  const grid = $('grid');
  const n = grid.children.length;
  if (n === 0) return;
  const gap = parseFloat(getComputedStyle(grid).columnGap) || 10;
  const width = grid.clientWidth;
  const height = grid.clientHeight;
  const narrow = width < 600;
  const minAspect = narrow ? 3 / 4 : 4 / 3;
  let best = { area: 0, w: 0, h: 0 };
  for (let cols = 1; cols <= Math.min(n, narrow ? 2 : n); cols++) {
    const rows = Math.ceil(n / cols);
    let w = (width - gap * (cols - 1)) / cols;
    let h = (height - gap * (rows - 1)) / rows;
    if (w / h > 16 / 9) w = (h * 16) / 9;
    if (w / h < minAspect) h = w / minAspect;
    if (w * h > best.area) best = { area: w * h, w, h };
  }
  grid.style.setProperty('--tile-w', `${Math.max(80, Math.floor(best.w))}px`);
  grid.style.setProperty('--tile-h', `${Math.max(45, Math.floor(best.h))}px`);
}

// --- people and notices ---

function renderPeople() {
  const list = $('people');
  const people = [...session.participants.values()].sort((a, b) =>
    Number(b.id === session.participantId) - Number(a.id === session.participantId) || a.id - b.id);
  list.replaceChildren(...people.map(personItem));
  const n = people.length;
  $('people-count').textContent = String(n);
  $('people-badge').textContent = n ? String(n) : '';
  $('count').textContent = n ? `${n} in call` : '';
}

function personItem(p) {
  const li = el('li', 'person');
  li.dataset.participant = String(p.id);
  const avatar = el('span', 'avatar small');
  fillAvatar(avatar, displayName(p));
  const name = el('span', 'name', displayName(p));
  li.append(avatar, name);
  if (p.id === session.participantId) li.append(el('span', 'tag', 'You'));
  const cam = primaryTrack(p.id);
  if (p.id !== session.participantId && !cam?.live) li.append(el('span', 'tag muted', 'camera off'));
  const voices = p.id === session.participantId ? null : [...session.tracks.values()].filter((t) => t.participantId === p.id && t.kind === KIND_AUDIO);
  if (voices && voices.length && !voices.some((t) => t.live)) li.append(el('span', 'tag muted', 'muted'));
  if (voices && !voices.length) li.append(el('span', 'tag muted', 'no microphone'));
  if (audio.mutedPeople.has(p.id)) li.append(el('span', 'tag muted', 'muted for you'));
  if ([...session.tracks.values()].some((t) => t.participantId === p.id && t.source === SOURCE.SCREEN)) li.append(el('span', 'tag', 'presenting'));
  return li;
}

function notice(text) {
  sc.notices.push(text);
  const li = el('li', '', text);
  li.prepend(el('time', 'muted', new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
  $('activity').prepend(li);
  while ($('activity').children.length > 50) $('activity').lastChild.remove();
  toast(text);
}

function toast(text) {
  const t = el('div', 'toast', text);
  $('toasts').append(t);
  setTimeout(() => t.classList.add('gone'), TOAST_MS);
  setTimeout(() => t.remove(), TOAST_MS + 400);
}

// --- chat ---

const chatItems = new Map(); // client_msg_id (string) -> <li> still waiting for its RESULT
const mine = new Set();      // client_msg_ids this page sent
let unread = 0;

function chatEntry(m) {
  const li = el('li', 'msg');
  li.dataset.seq = String(m.seq);
  const meta = el('div', 'meta');
  const own = mine.has(String(m.clientMsgId));
  meta.append(el('span', 'who', own ? 'You' : m.name || `participant-${m.participantId}`), el('time', 'when', timeOf(m.sentAtUs)));
  li.append(meta, el('div', 'text', m.text));
  li.classList.toggle('mine', own);
  return li;
}

function onChat(m) {
  sc.chat.push({ seq: Number(m.seq), name: m.name, text: m.text });
  sc.lastChatSeq = Number(m.seq);
  const li = chatEntry(m);
  const log = $('chat-log');
  const prev = log.lastElementChild;
  if (prev?.classList.contains('msg') && prev.dataset.who === m.name && Number(m.sentAtUs) - Number(prev.dataset.at) < 60e6) li.classList.add('cont');
  li.dataset.who = m.name;
  li.dataset.at = String(m.sentAtUs);
  chatItems.get(String(m.clientMsgId))?.remove();
  chatItems.delete(String(m.clientMsgId));
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.insertBefore(li, log.querySelector('.pending'));
  if (atBottom || li.classList.contains('mine')) log.scrollTop = log.scrollHeight;
  if (panelOpen() !== 'chat') {
    unread++;
    $('chat-badge').hidden = false;
  }
}

function onChatRefused({ clientId, text, code, reason }) {
  sc.refusals.push({ code: codeName(code), reason, text: text.slice(0, 100) });
  const li = chatItems.get(String(clientId)) ?? $('chat-log').appendChild(el('li'));
  chatItems.delete(String(clientId));
  li.className = 'msg refused';
  li.replaceChildren(el('div', 'text', text.length > 280 ? text.slice(0, 280) + '…' : text),
    el('div', 'why', `Not sent (${codeName(code)}): ${reason}`));
  $('chat-log').append(li);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
}

function sendChat() {
  const input = $('chat-input');
  const text = cleanChatText(input.value);
  if (!text.trim() || !session) return;
  const clientId = String(session.sendChatText(text));
  mine.add(clientId);
  const li = el('li', 'msg mine pending');
  li.append(el('div', 'meta', 'Sending…'), el('div', 'text', text));
  chatItems.set(clientId, li);
  $('chat-log').append(li);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
  input.value = '';
  autosize();
}

/** A hub without a chat store (or a participant without the chat permission) cannot take messages: say so. */
function showChatAvailability() {
  if (!session.welcome) return;
  const input = $('chat-input');
  input.disabled = !session.canChat;
  $('chat-send').disabled = !session.canChat;
  input.placeholder = session.canChat ? 'Send a message to everyone' : 'This hub keeps no chat';
}

function autosize() {
  const input = $('chat-input');
  input.style.height = 'auto';
  input.style.height = Math.min(input.scrollHeight, 120) + 'px';
}

// --- panels ---

const panelOpen = () => ($('panel').hidden ? null : $('panel').dataset.open);

function openPanel(which) {
  const panel = $('panel');
  const close = which === null || (panelOpen() === which);
  panel.hidden = close;
  panel.dataset.open = close ? '' : which;
  for (const name of ['people', 'chat']) {
    const shown = !close && name === which;
    $(`${name}-panel`).hidden = !shown;
    $(`tab-${name}`).setAttribute('aria-selected', String(shown));
    $(`${name}-toggle`).setAttribute('aria-pressed', String(shown));
  }
  if (!close && which === 'chat') {
    unread = 0;
    $('chat-badge').hidden = true;
    const log = $('chat-log');
    log.scrollTop = log.scrollHeight;
    if (matchMedia('(min-width: 700px)').matches) $('chat-input').focus();
  }
  requestAnimationFrame(layoutGrid);
}

// --- screens and state ---

function showScreen(name) {
  document.body.dataset.screen = name;
  $('join-screen').hidden = name !== 'join';
  $('call-screen').hidden = name !== 'call';
  $('left-screen').hidden = name !== 'left';
  requestAnimationFrame(layoutGrid);
}

function render() {
  if (!session) return;
  sc.state = session.state;
  sc.reason = session.reason;
  sc.participantId = session.participantId;
  sc.participants = [...session.participants.values()].map((p) => ({ id: p.id, name: p.name, self: p.id === session.participantId }));
  sc.reconnects = session.reconnects;
  sc.clockOffsetUs = session.clock.offsetUs;
  $('banner').hidden = session.state !== 'reconnecting';
  $('banner').textContent = session.state === 'reconnecting' ? 'Reconnecting…' : '';
  $('screen').setAttribute('aria-pressed', String(!!media.screen));
  $('screen').classList.toggle('on', !!media.screen);
  $('screen').title = media.screen ? 'Stop sharing' : 'Share your screen';
  showChatAvailability();
  syncTiles();
  renderPeople();
}

function onState({ state, reason }) {
  render();
  if (state === 'left') {
    showScreen('left');
    $('left-title').textContent = reason === 'you left the call' ? 'You left the call' : 'The call ended';
    $('left-reason').textContent = reason === 'you left the call' ? '' : reason;
  }
}

function onRoom({ reset }) {
  if (reset) {
    for (const tile of tiles.values()) {
      tile.h264?.close();
      tile.el.remove();
    }
    tiles.clear();
    sc.tiles = {};
    audio.playout.keep(new Set());
  }
  render();
}

function createSession(name) {
  const s = new CallSession({ room, name, token, wsUrl: wsUrl('/v2/ws') });
  s.on('state', onState)
    .on('room', onRoom)
    .on('joined', (p) => { notice(`${displayName(p)} joined`); render(); })
    .on('left', (p) => { notice(`${displayName(p)} left`); render(); })
    .on('track', render).on('untrack', render).on('trackstate', render)
    .on('frame', routeFrame)
    .on('keyframerequest', onKeyframeRequest)
    .on('chat', onChat)
    .on('chatrefused', onChatRefused)
    .on('chatreset', () => { $('chat-log').replaceChildren(); sc.chat = []; })
    .on('chatgap', () => $('chat-log').append(el('li', 'gap muted', 'Some older messages are not shown.')))
    .on('refused', (r) => toast(`Refused (${codeName(r.code)}): ${r.text}`));
  return s;
}

async function join(event) {
  event?.preventDefault();
  const name = cleanName($('name').value) || 'Guest';
  localStorage.setItem(NAME_KEY, name);
  fillAvatar($('self-avatar'), name);
  startSound();
  session ??= createSession(name);
  session.name = name;
  await video.ready;
  if (media.camera) session.publishTrack(cameraDesc());
  if (audio.mic) session.publishTrack(MIC, !audio.muted, 'muted');
  showScreen('call');
  renderMic();
  if (audio.note) toast(audio.note);
  session.start();
  sendCamera();
  openPanel(matchMedia('(min-width: 1000px)').matches ? 'chat' : null);
}

async function rejoin() {
  startSound();
  if (media.cameraWanted && !media.camera) await startCamera();
  await video.ready;
  if (media.camera && !session.local.has(CAMERA.trackId)) session.publishTrack(cameraDesc());
  if (!audio.mic && audio.state !== 'unsupported') await startMicrophone();
  if (audio.mic && !session.local.has(MIC.trackId)) session.publishTrack(MIC, !audio.muted, 'muted');
  showScreen('call');
  renderMic();
  session.start();
  sendCamera();
}

function leave() {
  stopScreen();
  stopCamera();
  session.local.delete(CAMERA.trackId);
  audio.mic?.stop();
  audio.mic = null;
  session.local.delete(MIC.trackId);
  audio.playout.stop();
  session.leave();
}

/** On the join screen: who is in the room already (from /api/rooms), as text. */
async function peek() {
  if (document.body.dataset.screen !== 'join') return;
  try {
    const response = await fetch(withToken('/api/rooms'), { cache: 'no-store' });
    if (!response.ok) return;
    const here = (await response.json()).rooms?.find((r) => r.name === room)?.participants ?? [];
    $('join-here').textContent = describeHere(here.map((p) => p.name || `participant-${p.id}`));
  } catch {
    // The list is a nicety: the call works without it.
  } finally {
    setTimeout(peek, 3000);
  }
}

function describeHere(names) {
  if (names.length === 0) return 'No one else is here yet.';
  if (names.length === 1) return `${names[0]} is in the call.`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are in the call.`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} more are in the call.`;
}

function showPreviewName() {
  const name = $('name').value.trim();
  fillAvatar($('preview-avatar'), name || '?');
  $('preview-name').textContent = name;
}

async function copyLink() {
  try {
    await navigator.clipboard.writeText(location.href);
    toast('Link copied');
  } catch {
    window.prompt('Copy this link', location.href);
  }
}

function tickClock() {
  const p50 = sc.latencyP50Us();
  const parts = [new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), room];
  if (p50 !== null && session?.state === 'live') parts.push(`${(p50 / 1000).toFixed(0)} ms`);
  $('stats').textContent = parts.join(' · ');
  sc.clockOffsetUs = session?.clock.offsetUs ?? 0;
}

function wire() {
  $('join-form').addEventListener('submit', join);
  $('preview-cam').addEventListener('click', () => setCamera(!media.camera));
  $('cam').addEventListener('click', () => setCamera(!media.camera));
  $('preview-mic').addEventListener('click', () => setMicMuted(!audio.muted));
  $('mic').addEventListener('click', () => setMicMuted(!audio.muted));
  $('sound-on').addEventListener('click', () => { startSound(); renderMic(); });
  $('screen').addEventListener('click', () => setScreen(!media.screen));
  $('leave').addEventListener('click', leave);
  $('rejoin').addEventListener('click', rejoin);
  $('people-toggle').addEventListener('click', () => openPanel('people'));
  $('chat-toggle').addEventListener('click', () => openPanel('chat'));
  $('tab-people').addEventListener('click', () => openPanel('people'));
  $('tab-chat').addEventListener('click', () => openPanel('chat'));
  $('panel-close').addEventListener('click', () => openPanel(null));
  $('copy-link').addEventListener('click', copyLink);
  $('alone-copy').addEventListener('click', copyLink);
  $('chat-form').addEventListener('submit', (e) => { e.preventDefault(); sendChat(); });
  $('chat-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendChat();
    }
  });
  $('chat-input').addEventListener('input', autosize);
  $('name').addEventListener('input', showPreviewName);
  new ResizeObserver(layoutGrid).observe($('grid'));
  setInterval(tickClock, 1000);
  setInterval(audioTick, AUDIO_TICK_MS);
}

function init() {
  document.title = `${room} · SocketCam call`;
  $('room').textContent = room;
  $('join-room').textContent = room;
  $('home').href = pageLink('/');
  $('left-home').href = pageLink('/');
  $('name').value = localStorage.getItem(NAME_KEY) ?? '';
  showPreviewName();
  wire();
  showScreen('join');
  tickClock();
  peek();
  renderMic();
  if (!navigator.mediaDevices?.getUserMedia) {
    $('join-status').textContent = 'The camera needs a secure context (https:// or http://localhost); you can still join and chat.';
    showOwnVideo();
    startMicrophone();
  } else {
    // The camera first, then the microphone: a browser that asks asks once for each, in that order.
    startCamera().finally(startMicrophone);
  }
}

init();
