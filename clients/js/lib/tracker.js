// The tracker: a media element's and its page's events become heartbeats (heartbeat.js says which)
// for the send queue (queue.js). The browser APIs it uses beyond the element, its document and
// window (timers, clocks, ids, fetch, storage, console) are given to it by watchtime-player.js.

import { MAX_AT, checkIdentity, newHeartbeat, positionToAt, readOptions, seekedWait, seekingBeats } from "./heartbeat.js";
import { SendQueue } from "./queue.js";

export class Tracker {
  /**
   * @param {HTMLMediaElement} media
   * @param {object} options track()'s options (README.md, "Options")
   * @param {object} env the browser: `fetch`, `now` (wall clock, ms), `monotonic` (performance.now),
   *   `setTimeout`, `clearTimeout`, `random`, `randomId` (sessions), `eventId(nowMs)`, `openStorage` (localStorage or null),
   *   `warn`, `error`, and the `document` and `window` of a media element that has no ownerDocument
   */
  constructor(media, options, env) {
    if (!media || typeof media.addEventListener !== "function" || !("currentTime" in media)) {
      throw new TypeError("watchtime.track: the first argument must be an HTMLMediaElement");
    }
    const { endpoint, key, user, slug, session, intervalMs, maxBackoff, storage, onHeartbeat } = readOptions(options);
    const { setTimeout, clearTimeout, monotonic, now, randomId, eventId, warn, error } = env;
    this._setTimeout = (callback, ms) => setTimeout(callback, ms);
    this._clearTimeout = (id) => clearTimeout(id);
    this._monotonic = () => monotonic();
    this._now = () => now();
    this._randomId = () => randomId();
    this._eventId = (nowMs) => eventId(nowMs);
    this._warn = (...args) => warn(...args);
    this._error = (...args) => error(...args);

    this._media = media;
    this._user = user;
    this._slug = slug;
    this._session = session; // null: a new id at the playback's first heartbeat
    this._sessionBeats = 0;
    this._lastAt = 0; // the latest heartbeat's position
    this._intervalMs = intervalMs;
    this._onHeartbeat = onHeartbeat;
    this._lastStablePosition = media.currentTime || 0; // currentTime outside of seeks
    this._lastSeekedBeat = -Infinity;
    this._tickTimer = null;
    this._seekTimer = null;
    this._stopped = false;
    this._warned = new Set();
    this._queue = new SendQueue({
      endpoint,
      key,
      maxBackoff,
      storage: storage ? env.openStorage() : null,
      fetch: env.fetch,
      now: env.now,
      setTimeout: env.setTimeout,
      clearTimeout: env.clearTimeout,
      random: env.random,
      randomId: env.randomId,
      warn: env.warn,
    });

    const doc = media.ownerDocument || env.document;
    const win = doc.defaultView || env.window;
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
    this._clearTimers();
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
    const { at, skip } = positionToAt(position);
    if (skip === "past-limit") {
      this._warnOnce("at", `watchtime: positions past ${MAX_AT} s cannot be sent; heartbeats skipped`);
    }
    if (skip) return;
    if (this._session === null) this._session = this._randomId();
    const nowMs = this._now();
    const event = newHeartbeat({
      eventId: this._eventId(nowMs),
      user: this._user,
      slug: this._slug,
      at,
      session: this._session,
      nowMs,
    });
    this._sessionBeats += 1;
    this._lastAt = at;
    this._queue.add(event);
    if (this._onHeartbeat) {
      try {
        this._onHeartbeat({ ...event });
      } catch (error) {
        this._error("watchtime: onHeartbeat threw", error);
      }
    }
    this._scheduleTick();
  }

  // The next periodic heartbeat comes one interval after the latest heartbeat of any kind.
  _scheduleTick() {
    this._clearTimeout(this._tickTimer);
    this._tickTimer = null;
    if (this._stopped || !this._playing()) return;
    this._tickTimer = this._setTimeout(() => {
      this._tickTimer = null;
      this._beat();
    }, this._intervalMs);
  }

  _onTimeUpdate() {
    if (!this._media.seeking) this._lastStablePosition = this._media.currentTime;
  }

  // Close the watched segment at the position played last, unless this seek continues a scrub.
  _onSeeking() {
    if (this._sessionBeats > 0 && seekingBeats(this._monotonic(), this._lastSeekedBeat)) {
      this._beat(this._lastStablePosition);
    }
  }

  // The new position. A scrub (seeks less than a second apart) gets one trailing heartbeat a
  // second, just after one that repeats the latest position sent: so each jump is a pair of
  // heartbeats a moment apart, which the rule credits 1 s, however long the scrub lasts.
  _onSeeked() {
    this._lastStablePosition = this._media.currentTime;
    if (this._sessionBeats === 0 || this._seekTimer !== null) return;
    const wait = seekedWait(this._monotonic(), this._lastSeekedBeat);
    if (wait <= 0) {
      this._lastSeekedBeat = this._monotonic();
      this._beat();
      return;
    }
    this._seekTimer = this._setTimeout(() => {
      this._seekTimer = null;
      this._lastSeekedBeat = this._monotonic();
      this._beat(this._lastAt);
      this._beat();
    }, wait);
  }

  // `ended` or a new source: the last heartbeat of this playback; the next one starts a new session.
  _endPlayback(position) {
    this._beat(position);
    this._clearTimers();
    this._session = null;
    this._sessionBeats = 0;
    this._lastSeekedBeat = -Infinity;
  }

  _clearTimers() {
    this._clearTimeout(this._tickTimer);
    this._clearTimeout(this._seekTimer);
    this._tickTimer = this._seekTimer = null;
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

  _warnOnce(topic, ...message) {
    if (this._warned.has(topic)) return;
    this._warned.add(topic);
    this._warn(...message);
  }
}
