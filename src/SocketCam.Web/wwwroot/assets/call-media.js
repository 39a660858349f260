// Media for the call page: the camera and a screen share captured to JPEG at a fixed size and pace (newest wins: a tick
// is skipped while the previous frame is still encoding or still in the socket), and received JPEGs drawn on canvases.

/** A video element playing `stream` (not in the page), so frames can be drawn from it. */
export function playing(stream) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  video.play().catch(() => {});
  return video;
}

export async function openCamera({ width, height, fps }) {
  return navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: fps } }, audio: false,
  });
}

export async function openScreen({ fps }) {
  return navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: fps } }, audio: false });
}

export function surface(width, height) {
  if (typeof OffscreenCanvas === 'function') {
    const canvas = new OffscreenCanvas(width, height);
    return { canvas, ctx: canvas.getContext('2d'), encode: (o) => canvas.convertToBlob(o) };
  }
  const canvas = Object.assign(document.createElement('canvas'), { width, height });
  const encode = (o) => new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('toBlob failed'))), o.type, o.quality));
  return { canvas, ctx: canvas.getContext('2d'), encode };
}

/** Scales the picture to cover the target (centred crop) or to fit inside it (letterboxed), keeping its aspect. */
export function draw(video, { canvas, ctx }, fit) {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  const scale = (fit === 'cover' ? Math.max : Math.min)(canvas.width / vw, canvas.height / vh);
  const w = vw * scale;
  const h = vh * scale;
  if (fit !== 'cover') ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(video, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}

/**
 * Sends one MediaStream's video as JPEG frames of `width` x `height` at `fps` through `send(jpeg, w, h, captureUs)`,
 * asking `ready(bytes)` first (false: skip this tick). `captureUs()` stamps the frame when it is drawn.
 */
export class FrameSender {
  constructor(stream, { width, height, fps, quality = 0.7, fit = 'cover' }, { ready, send, captureUs }) {
    Object.assign(this, { stream, width, height, fps, quality, fit, ready, send, captureUs });
    this.video = playing(stream);
    this.target = surface(width, height);
    this.encoding = false;
    this.lastBytes = 0;
    this.sent = 0;
    this.skipped = 0;
    this.timer = 0;
    this.next = performance.now();
    this.tick();
  }

  tick() {
    const now = performance.now();
    this.next = Math.max(this.next + 1000 / this.fps, now);
    this.timer = setTimeout(() => this.tick(), this.next - now);
    if (this.video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || !this.video.videoWidth) return;
    if (this.encoding || !this.ready(this.lastBytes)) {
      this.skipped++;
      return;
    }
    this.encode();
  }

  async encode() {
    this.encoding = true;
    try {
      draw(this.video, this.target, this.fit);
      const captureUs = this.captureUs();
      const blob = await this.target.encode({ type: 'image/jpeg', quality: this.quality });
      const jpeg = await blob.arrayBuffer();
      this.lastBytes = jpeg.byteLength;
      if (this.timer && this.send(jpeg, this.width, this.height, captureUs)) this.sent++;
    } catch {
      this.skipped++;
    } finally {
      this.encoding = false;
    }
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.video.srcObject = null;
  }
}

/** Size of a screen share: the screen's aspect, at most `maxWidth` x `maxHeight`, even numbers. */
export function screenSize(stream, maxWidth, maxHeight) {
  const s = stream.getVideoTracks()[0]?.getSettings() ?? {};
  const w = s.width || maxWidth;
  const h = s.height || maxHeight;
  const scale = Math.min(1, maxWidth / w, maxHeight / h);
  return { width: Math.max(2, Math.round((w * scale) / 2) * 2), height: Math.max(2, Math.round((h * scale) / 2) * 2) };
}

/**
 * Draws received JPEG frames on a canvas, newest wins: while one decodes only the newest waits, older ones are dropped.
 * `drawn(frame)` is called after each frame is on the canvas.
 */
export class FrameDrawer {
  constructor(canvas, drawn) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.drawn = drawn;
    this.decoding = false;
    this.pending = null;
    this.frames = 0;
    this.dropped = 0;
  }

  push(frame) {
    if (this.decoding) {
      if (this.pending) this.dropped++;
      this.pending = frame;
      return;
    }
    this.decode(frame);
  }

  async decode(frame) {
    this.decoding = true;
    try {
      const bitmap = await createImageBitmap(new Blob([frame.data], { type: 'image/jpeg' }));
      if (this.canvas.width !== bitmap.width || this.canvas.height !== bitmap.height) {
        this.canvas.width = bitmap.width;
        this.canvas.height = bitmap.height;
      }
      this.ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      this.frames++;
      this.drawn(frame);
    } catch {
      this.dropped++;
    } finally {
      this.decoding = false;
      const next = this.pending;
      this.pending = null;
      if (next) this.decode(next);
    }
  }
}
