// Room list: /api/rooms every 2 s, and a snapshot thumbnail per JPEG room every second.
const LIST_MS = 2000;
const THUMB_MS = 1000;

import { pageLink } from './access.js';

const cards = new Map(); // room name -> { el, room, loading }

// Data URLs carry no token: the page's cookie (access.js) presents it.
function withToken(path, query = '') {
  return query ? `${path}?${query}` : path;
}

const roomPath = (name) => '/rooms/' + encodeURIComponent(name);

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function link(className, href, text) {
  const a = el('a', className, text);
  a.href = href;
  return a;
}

function createCard(name) {
  const card = el('article', 'room');
  card.dataset.room = name;
  const shot = link('shot', pageLink(roomPath(name)), '');
  const body = el('div', 'body');
  const title = el('h2');
  title.append(link('', pageLink(roomPath(name)), name));
  body.append(title, el('div', 'signal'), el('div', 'size muted'), el('div', 'viewers muted'));
  const links = el('nav', 'links');
  links.append(
    link('call', pageLink('/call/' + encodeURIComponent(name)), 'Join call'),
    link('watch', pageLink(roomPath(name)), 'Watch'),
    link('publish', pageLink(roomPath(name) + '/publish'), 'Publish'),
    link('mjpeg', withToken(roomPath(name) + '/stream.mjpg'), 'MJPEG'),
    link('snapshot', withToken(roomPath(name) + '/snapshot.jpg'), 'Snapshot'));
  card.append(shot, body, links);
  return card;
}

// /api/rooms names viewer kinds for scripts ("websocket", "native", ...); people read what those are.
const VIEWER_KINDS = {
  websocket: 'in a browser',
  mjpeg: 'on the MJPEG stream',
  native: 'with socketcam view',
  'udp-viewer': 'with socketcam view over UDP',
  seed: "with the Python tutorial's client",
  'v2-watcher': 'from a call',
};

function describeViewers(viewers = {}) {
  const kinds = Object.entries(viewers).filter(([, n]) => n > 0);
  if (kinds.length === 0) return 'nobody watching';
  const name = (k) => VIEWER_KINDS[k] ?? k;
  if (kinds.length === 1) return `${kinds[0][1]} watching ${name(kinds[0][0])}`;
  const total = kinds.reduce((sum, [, n]) => sum + n, 0);
  return `${total} watching: ` + kinds.map(([k, n]) => `${n} ${name(k)}`).join(' · ');
}

function updateCard(entry, room) {
  const card = entry.el;
  entry.room = room;
  const signal = card.querySelector('.signal');
  signal.textContent = room.signal ? 'live' : `no signal${room.reason ? ': ' + room.reason : ''}`;
  signal.className = 'signal ' + (room.signal ? 'ok' : 'bad');
  const size = room.width ? `${room.width}×${room.height} ${room.codec ?? ''}` : 'no frame yet';
  const publisher = room.publisher ? 'publisher connected' : 'no publisher';
  card.querySelector('.size').textContent = `${size} · ${room.framesPublished} frames · ${publisher}`;
  const recorders = room.recorders ? ` · ${room.recorders} recording` : '';
  const viewers = card.querySelector('.viewers');
  viewers.textContent = describeViewers(room.viewers) + recorders;
  viewers.title = 'Viewer connections by kind (as /api/rooms names them): '
    + (Object.entries(room.viewers ?? {}).map(([k, n]) => `${k} ${n}`).join(', ') || 'none');
  const shot = card.querySelector('.shot');
  if (room.codec !== 'jpeg' && !shot.querySelector('.thumb')) {
    shot.textContent = room.codec === 'raw' ? 'raw frames: no preview' : 'no picture yet';
  }
}

function render(rooms) {
  const list = document.getElementById('rooms');
  const seen = new Set();
  for (const room of rooms) {
    seen.add(room.name);
    let entry = cards.get(room.name);
    if (!entry) {
      entry = { el: createCard(room.name), room, loading: false };
      cards.set(room.name, entry);
    }
    updateCard(entry, room);
    list.append(entry.el); // keeps the server's (sorted) order
  }
  for (const [name, entry] of cards) {
    if (!seen.has(name)) {
      entry.el.remove();
      cards.delete(name);
    }
  }
  document.getElementById('empty').hidden = rooms.length > 0;
}

function showStatus(text) {
  const status = document.getElementById('status');
  status.textContent = text;
  status.hidden = !text;
}

async function refreshList() {
  try {
    const response = await fetch(withToken('/api/rooms'), { cache: 'no-store' });
    if (!response.ok) throw new Error(`${response.status} ${(await response.text()).trim()}`);
    render((await response.json()).rooms ?? []);
    showStatus('');
  } catch (err) {
    showStatus(`Cannot load the room list: ${err.message}`);
  } finally {
    setTimeout(refreshList, LIST_MS);
  }
}

// Loads the next snapshot off-screen and swaps it in only once it is decoded, so the thumbnail never flickers.
function refreshThumb(entry) {
  // A room with no frame yet has no codec in /api/rooms; asking for its snapshot is what wakes a paused capture.
  if (entry.loading || entry.room.codec === 'raw') return;
  entry.loading = true;
  const img = new Image();
  img.className = 'thumb';
  img.alt = `${entry.room.name} snapshot`;
  img.onload = () => {
    entry.loading = false;
    const shot = entry.el.querySelector('.shot');
    const old = shot.querySelector('.thumb');
    if (old) old.replaceWith(img);
    else shot.replaceChildren(img);
  };
  img.onerror = () => { entry.loading = false; };
  img.src = withToken(roomPath(entry.room.name) + '/snapshot.jpg', 't=' + Date.now());
}

function refreshThumbs() {
  if (!document.hidden) cards.forEach(refreshThumb);
}

document.getElementById('new-room').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = document.getElementById('room-name').value.trim();
  const call = event.submitter?.value !== 'publish';
  if (name) location.href = pageLink(call ? '/call/' + encodeURIComponent(name) : roomPath(name) + '/publish');
});

refreshList();
setInterval(refreshThumbs, THUMB_MS);
