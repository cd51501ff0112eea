// watchtime-player: sends heartbeats from an HTMLMediaElement to a watchtime API.
// One ES module with no dependencies and no build step; README.md next to it documents it.
//
//   import { track } from "./watchtime-player.js";
//   const tracker = track(video, { endpoint, key, user, slug });   // later: tracker.stop()
//
// Correctness rests on three things the API's accounting needs: every heartbeat carries the
// player's wall clock (`ts`) and its own `event_id`, given once, so a retry can never count
// twice; one `session` per playback, so two tabs never interleave in one stream; and a send
// queue that survives offline spells, 503s, reloads and crashes (localStorage).

export const VERSION = "0.1.0";

const MAX_AT = 86400; // the API refuses positions past 24 h
const MAX_BATCH = 1000; // events per request (the API's limit)
const MAX_BODY_BYTES = 1000 * 1000; // the API refuses bodies over 1 MiB
// Browsers allow a page at most 64 KiB of keepalive request bodies in flight.
const KEEPALIVE_MAX_BYTES = 60 * 1024;
const MAX_QUEUED = 5000; // ~14 h of 10 s heartbeats; the oldest are dropped past this
const BACKOFF_BASE_SECONDS = 1;
// Seek heartbeats closer than this are one scrub: its intermediate positions were not watched.
const SEEK_THROTTLE_MS = 1000;
const STORAGE_PREFIX = "watchtime:v1:queue:";

const USER_RE = /^[\p{L}\p{N}_.@+-]{1,150}$/u;
const SLUG_RE = /^[-a-zA-Z0-9_]{1,100}$/;
// eslint-disable-next-line no-control-regex
const SESSION_RE = /^[^\u0000-\u001f\u007f]{0,64}$/u; // 64 code points, as the API counts

/**
 * Start tracking `media`. Returns a tracker; `tracker.stop()` detaches it.
 * @param {HTMLMediaElement} media
 * @param {object} options see README.md ("Options")
 */
export function track(media, options) {
  return new Tracker(media, options);
}

export default { track, VERSION };

class Tracker {
  constructor(media, options = {}) {
    if (!media || typeof media.addEventListener !== "function" || !("currentTime" in media)) {
      throw new TypeError("watchtime.track: the first argument must be an HTMLMediaElement");
    }
    const { endpoint, key, user, slug, session, interval = 10, maxBackoff = 60, storage = true } = options;
    if (typeof endpoint !== "string" || !/^https?:\/\//.test(endpoint)) {
      throw new TypeError("watchtime.track: `endpoint` must be the API's http(s) URL");
    }
    if (key !== undefined && (typeof key !== "string" || key === "")) {
      throw new TypeError("watchtime.track: `key` must be an API key with the ingest scope");
    }
    checkIdentity(user, slug);
    if (session !== undefined && !validSession(session)) {
      throw new TypeError("watchtime.track: `session` must be at most 64 printable characters");
    }
    if (!(interval >= 1 && interval <= 120)) {
      throw new TypeError("watchtime.track: `interval` must be 1 to 120 seconds");
    }
    if (!(maxBackoff >= 1)) throw new TypeError("watchtime.track: `maxBackoff` must be at least 1 second");
    if (options.onHeartbeat !== undefined && typeof options.onHeartbeat !== "function") {
      throw new TypeError("watchtime.track: `onHeartbeat` must be a function");
    }

    this._media = media;
    this._user = user;
    this._slug = slug;
    this._session = session ?? null; // null: a new id at the playback's first heartbeat
    this._sessionBeats = 0;
    this._lastAt = 0; // the latest heartbeat's position
    this._intervalMs = interval * 1000;
    this._onHeartbeat = options.onHeartbeat;
    this._lastStablePosition = media.currentTime || 0; // currentTime outside of seeks
    this._lastSeekedBeat = -Infinity;
    this._tickTimer = null;
    this._seekTimer = null;
    this._stopped = false;
    this._queue = new SendQueue({ endpoint, key, maxBackoff, storage });

    const doc = media.ownerDocument || document;
    const win = doc.defaultView || window;
    this._listeners = [
      [media, "play", () => this._beat()],
      [media, "pause", () => this._beat()],
      [media, "seeking", () => this._onSeeking()],
      [media, "seeked", () => this._onSeeked()],
      [media, "ratechange", () => this._playing() && this._beat()],
      [media, "timeupdate", () => this._onTimeUpdate()],
      [media, "ended", () => this._endPlayback(this._position())],
      [media, "emptied", () => this._sessionBeats > 0 && this._endPlayback(this._lastStablePosition)],
      [doc, "visibilitychange", () => doc.visibilityState === "hidden" && this._onHidden()],
      [win, "pagehide", () => this._onPageHide()],
      [win, "pageshow", (event) => event.persisted && this._queue.reclaim()],
      [win, "online", () => this._queue.retryNow()],
    ];
    for (const [target, type, listener] of this._listeners) target.addEventListener(type, listener);
    if (this._playing()) this._beat(); // attached to a media element that is already playing
  }

  /** The current session id (null before the playback's first heartbeat). */
  get session() {
    return this._session;
  }

  /** Number of heartbeats not yet acknowledged by the API. */
  get pending() {
    return this._queue.size;
  }

  /** Send what is queued now, without waiting for a backoff; resolves to what is still queued. */
  flush() {
    return this._queue.flushNow();
  }

  /** Change `user` or `slug` (e.g. before loading another film); ends the playback in progress. */
  update({ user = this._user, slug = this._slug } = {}) {
    checkIdentity(user, slug);
    if (user === this._user && slug === this._slug) return;
    const playing = this._playing();
    if (this._sessionBeats > 0) this._endPlayback(this._position());
    this._user = user;
    this._slug = slug;
    if (playing) this._beat(); // the new playback's baseline
  }

  /** Detach: one last heartbeat if playing, one last send, then no listener or timer is left. */
  stop() {
    if (this._stopped) return;
    if (this._playing()) this._beat();
    this._stopped = true;
    clearTimeout(this._tickTimer);
    clearTimeout(this._seekTimer);
    this._tickTimer = this._seekTimer = null;
    for (const [target, type, listener] of this._listeners) target.removeEventListener(type, listener);
    this._listeners = [];
    this._queue.close();
  }

  _playing() {
    return !this._media.paused && !this._media.ended;
  }

  _position() {
    // While seeking, currentTime is already the target: a playback in progress was last at the
    // stable position; a new one (a replay seeks to 0) starts at the target.
    return this._media.seeking && this._sessionBeats > 0 ? this._lastStablePosition : this._media.currentTime;
  }

  _beat(position = this._position()) {
    if (this._stopped) return;
    const at = Math.floor(position);
    if (!Number.isFinite(at) || at < 0) return; // no media yet, or a live stream without a position
    if (at > MAX_AT) {
      warnOnce(this, "at", `watchtime: positions past ${MAX_AT} s cannot be sent; heartbeats skipped`);
      return;
    }
    if (this._session === null) this._session = randomId();
    const event = {
      event_id: randomId(),
      user: this._user,
      slug: this._slug,
      at,
      session: this._session,
      ts: new Date().toISOString(),
    };
    this._sessionBeats += 1;
    this._lastAt = at;
    this._queue.add(event);
    if (this._onHeartbeat) {
      try {
        this._onHeartbeat({ ...event });
      } catch (error) {
        console.error("watchtime: onHeartbeat threw", error);
      }
    }
    this._scheduleTick();
  }

  // The next periodic heartbeat comes one interval after the latest heartbeat of any kind.
  _scheduleTick() {
    clearTimeout(this._tickTimer);
    this._tickTimer = null;
    if (this._stopped || !this._playing()) return;
    this._tickTimer = setTimeout(() => {
      this._tickTimer = null;
      this._beat();
    }, this._intervalMs);
  }

  _onTimeUpdate() {
    if (!this._media.seeking) this._lastStablePosition = this._media.currentTime;
  }

  // Close the watched segment at the position played last, unless this seek continues a scrub.
  _onSeeking() {
    if (this._sessionBeats > 0 && performance.now() - this._lastSeekedBeat >= SEEK_THROTTLE_MS) {
      this._beat(this._lastStablePosition);
    }
  }

  // The new position. A scrub (seeks less than a second apart) gets one trailing heartbeat a
  // second, just after one that repeats the latest position sent: so each jump is a pair of
  // heartbeats a moment apart, which the rule credits 1 s, however long the scrub lasts.
  _onSeeked() {
    this._lastStablePosition = this._media.currentTime;
    if (this._sessionBeats === 0 || this._seekTimer !== null) return;
    const wait = this._lastSeekedBeat + SEEK_THROTTLE_MS - performance.now();
    if (wait <= 0) {
      this._lastSeekedBeat = performance.now();
      this._beat();
      return;
    }
    this._seekTimer = setTimeout(() => {
      this._seekTimer = null;
      this._lastSeekedBeat = performance.now();
      this._beat(this._lastAt);
      this._beat();
    }, wait);
  }

  // `ended` or a new source: the last heartbeat of this playback; the next one starts a new session.
  _endPlayback(position) {
    this._beat(position);
    clearTimeout(this._tickTimer);
    clearTimeout(this._seekTimer);
    this._tickTimer = this._seekTimer = null;
    this._session = null;
    this._sessionBeats = 0;
    this._lastSeekedBeat = -Infinity;
  }

  _onHidden() {
    if (this._playing()) this._beat();
    this._queue.sendBeforeUnload(); // a hidden page may be discarded without another event
  }

  _onPageHide() {
    if (this._playing()) this._beat();
    this._queue.release();
    this._queue.sendBeforeUnload();
  }
}

/**
 * Heartbeats waiting for the API's 202: sent one request at a time in arrays of up to 1000,
 * retried with the same event_ids after capped, jittered exponential backoff (at least the
 * server's Retry-After), and mirrored to localStorage under a key of this queue's own.
 * A queue released at pagehide, or left untouched by a crashed page, is adopted by the next
 * queue for the same endpoint; a duplicate send that this may cause is harmless (event_id).
 */
class SendQueue {
  constructor({ endpoint, key, maxBackoff, storage }) {
    this._url = endpoint.replace(/\/+$/, "") + "/";
    this._headers = { "Content-Type": "application/json" };
    if (key) this._headers.Authorization = `Bearer ${key}`;
    this._maxBackoff = maxBackoff;
    this._orphanAfterMs = Math.max(5 * 60, 3 * maxBackoff) * 1000;
    this._storage = storage ? openStorage() : null;
    this._storageKey = STORAGE_PREFIX + randomId();
    this._events = [];
    this._inFlight = new Set(); // event_ids of requests not answered yet
    this._requests = 0; // requests in flight
    this._failures = 0; // consecutive failed attempts
    this._retryTimer = null;
    this._serverDelayUntil = 0; // Date.now() before which the server asked us not to come back
    this._released = false;
    this._closed = false;
    this._idleWaiters = []; // flush() promises
    this._adoptOrphans();
    this._kick();
  }

  get size() {
    return this._events.length;
  }

  add(event) {
    this._events.push(event);
    if (this._events.length > MAX_QUEUED) {
      const dropped = this._events.splice(0, this._events.length - MAX_QUEUED);
      console.warn(`watchtime: queue full, dropped the ${dropped.length} oldest heartbeats`);
    }
    this._persist();
    this._kick();
  }

  retryNow() {
    if (this._retryTimer === null || Date.now() < this._serverDelayUntil) return;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._kick();
  }

  // Resolves with the number still queued once the queue is empty or waits for a retry.
  flushNow() {
    if (Date.now() >= this._serverDelayUntil) {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
    }
    const idle = new Promise((resolve) => this._idleWaiters.push(resolve));
    this._kick();
    this._notifyIdle();
    return idle;
  }

  // The page is going away (pagehide): the next page's queue may adopt what is left.
  release() {
    this._released = true;
    this._persist();
  }

  // Back from the back/forward cache: ours again.
  reclaim() {
    this._released = false;
    this._persist();
    this._kick();
  }

  // One keepalive request with what is not in flight, so it outlives the page; a server's
  // Retry-After is still honoured (what stays queued is in localStorage for the next page).
  sendBeforeUnload() {
    if (Date.now() >= this._serverDelayUntil) this._send(KEEPALIVE_MAX_BYTES);
  }

  close() {
    this._closed = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._released = true;
    this._persist();
    this.sendBeforeUnload();
  }

  _kick() {
    if (this._closed || this._requests > 0 || this._retryTimer !== null || this._events.length === 0) return;
    this._send(MAX_BODY_BYTES);
  }

  async _send(maxBytes) {
    const batch = [];
    let bytes = 2; // []
    for (const event of this._events) {
      if (this._inFlight.has(event.event_id)) continue;
      const size = utf8Length(JSON.stringify(event)) + 1;
      if (batch.length === MAX_BATCH || bytes + size > maxBytes) break;
      batch.push(event);
      bytes += size;
    }
    if (batch.length === 0) return;
    for (const event of batch) this._inFlight.add(event.event_id);
    this._requests += 1;
    const answer = await post(this._url, {
      method: "POST",
      headers: this._headers,
      body: JSON.stringify(batch),
      credentials: "omit", // API keys, never cookies
      keepalive: bytes <= KEEPALIVE_MAX_BYTES,
    });
    this._requests -= 1;
    for (const event of batch) this._inFlight.delete(event.event_id);
    if (answer.status === 0 || answer.status === 408 || answer.status === 429 || answer.status >= 500) {
      this._retryLater(answer.retryAfter);
    } else if (answer.status < 300) {
      this._failures = 0;
      this._serverDelayUntil = 0;
      clearTimeout(this._retryTimer); // the API answers again: no reason to wait
      this._retryTimer = null;
      this._remove(batch);
      if (!this._closed) this._adoptOrphans();
      this._kick();
    } else {
      this._drop(batch, answer);
      this._kick();
    }
    this._notifyIdle();
  }

  _notifyIdle() {
    if (this._requests > 0) return;
    if (this._events.length > 0 && this._retryTimer === null && !this._closed) return; // more to send
    for (const resolve of this._idleWaiters.splice(0)) resolve(this._events.length);
  }

  // A 4xx other than 408/429 would fail again: drop (only the named events of a 400), never loop.
  _drop(batch, { status, error }) {
    const items = status === 400 ? error?.details?.items : null;
    let bad = items && typeof items === "object" ? batch.filter((_, i) => Object.hasOwn(items, String(i))) : [];
    if (bad.length === 0) bad = batch;
    const reason = error ? `${error.code}: ${error.message}` : `HTTP ${status}`;
    console.warn(`watchtime: the API refused ${bad.length} heartbeat(s) (${reason}); dropped`, items ?? error ?? "");
    this._remove(bad);
  }

  _retryLater(serverSeconds) {
    this._failures += 1;
    const backoff = Math.min(this._maxBackoff, BACKOFF_BASE_SECONDS * 2 ** (this._failures - 1));
    const jittered = backoff * (0.5 + Math.random() / 2);
    const delay = Math.max(jittered, serverSeconds ?? 0);
    this._serverDelayUntil = serverSeconds === null ? 0 : Date.now() + serverSeconds * 1000;
    this._persist(); // refreshes `touched`: a live queue is never adopted
    if (this._closed || this._retryTimer !== null) return;
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._kick();
    }, delay * 1000);
  }

  _remove(batch) {
    const ids = new Set(batch.map((event) => event.event_id));
    this._events = this._events.filter((event) => !ids.has(event.event_id));
    this._persist();
  }

  _persist() {
    if (this._storage === null) return;
    try {
      if (this._events.length === 0) {
        this._storage.removeItem(this._storageKey);
      } else {
        const record = { v: 1, endpoint: this._url, touched: Date.now(), released: this._released, events: this._events };
        this._storage.setItem(this._storageKey, JSON.stringify(record));
      }
    } catch (error) {
      warnOnce(this, "persist", "watchtime: cannot write localStorage; queued heartbeats live in memory only", error);
    }
  }

  _adoptOrphans() {
    if (this._storage === null) return;
    try {
      const keys = [];
      for (let i = 0; i < this._storage.length; i += 1) {
        const name = this._storage.key(i);
        if (name !== null && name.startsWith(STORAGE_PREFIX) && name !== this._storageKey) keys.push(name);
      }
      for (const name of keys) {
        let record = null;
        try {
          record = JSON.parse(this._storage.getItem(name));
        } catch {
          // unreadable: removed below
        }
        if (record !== null && record.endpoint !== this._url) continue;
        const orphaned = record === null || record.released || Date.now() - record.touched > this._orphanAfterMs;
        if (!orphaned) continue;
        const known = new Set(this._events.map((event) => event.event_id));
        for (const event of Array.isArray(record?.events) ? record.events : []) {
          if (event && typeof event.event_id === "string" && !known.has(event.event_id)) this._events.push(event);
        }
        this._persist(); // ours first: a crash in between can only duplicate, never lose
        this._storage.removeItem(name);
      }
    } catch (error) {
      warnOnce(this, "adopt", "watchtime: cannot read localStorage", error);
    }
  }
}

function checkIdentity(user, slug) {
  if (typeof user !== "string" || !USER_RE.test(user)) {
    throw new TypeError("watchtime: `user` must be 1-150 letters, digits or @.+-_");
  }
  if (typeof slug !== "string" || !SLUG_RE.test(slug)) {
    throw new TypeError("watchtime: `slug` must be 1-100 letters, digits, '-' or '_'");
  }
}

function validSession(session) {
  // isWellFormed: no lone surrogates (JSON carries them, the API's UTF-8 storage cannot)
  return typeof session === "string" && SESSION_RE.test(session) && (session.isWellFormed?.() ?? true);
}

// {status, retryAfter, error}: status 0 when nothing was answered (offline, refused, CORS), so
// nothing is known to be stored; `error` is the API's error object of a refusal.
async function post(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    return { status: 0, retryAfter: null, error: null };
  }
  const answer = { status: response.status, retryAfter: retryAfterSeconds(response.headers.get("Retry-After")), error: null };
  if (response.status >= 400) {
    try {
      answer.error = (await response.json()).error ?? null;
    } catch {
      // not the API's JSON error shape (a proxy's page, a body cut off)
    }
  }
  return answer;
}

function retryAfterSeconds(value) {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value); // the HTTP-date form
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

// crypto.randomUUID exists only in secure contexts; a page on plain http gets the same v4 UUID.
function randomId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const encoder = new TextEncoder();
function utf8Length(text) {
  return encoder.encode(text).length;
}

function openStorage() {
  try {
    const storage = globalThis.localStorage; // throws where storage is disabled
    return storage ?? null;
  } catch {
    return null;
  }
}

const warned = new WeakMap();
function warnOnce(owner, topic, ...message) {
  const topics = warned.get(owner) ?? new Set();
  warned.set(owner, topics);
  if (topics.has(topic)) return;
  topics.add(topic);
  console.warn(...message);
}
