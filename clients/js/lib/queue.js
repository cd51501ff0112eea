// The send queue: heartbeats waiting for the API's 2xx. It touches no browser API of its own:
// fetch, the clock, the timers and the storage are given to it (watchtime-player.js gives the
// browser's; the unit tests give fakes).

import { KEEPALIVE_BUDGET_BYTES, MAX_BODY_BYTES, packBatch } from "./batch.js";
import { classify, parseRetryAfter, refusalReason, refusedEvents, retryDelaySeconds, timerMs } from "./retry.js";
import { STORAGE_PREFIX, decodeRecord, encodeRecord, isOrphan, restoreEvents } from "./storage.js";

export const MAX_QUEUED = 5000; // ~14 h of 10 s heartbeats; the oldest are dropped past this
const ORPHAN_AFTER_MIN_SECONDS = 5 * 60;

/**
 * Heartbeats waiting for the API's 2xx: sent one request at a time in arrays of up to 1000,
 * retried with the same event_ids after capped, jittered exponential backoff (at least the
 * server's Retry-After), and mirrored to storage under a key of this queue's own.
 * A queue released at pagehide, or left untouched by a crashed page, is adopted by the next
 * queue for the same endpoint; a duplicate send that this may cause is harmless (event_id).
 */
export class SendQueue {
  /**
   * @param {object} options
   * @param {string} options.endpoint the API's base URL: heartbeats go to `POST <endpoint>/`
   * @param {string} [options.key] sent as `Authorization: Bearer <key>`
   * @param {number} options.maxBackoff seconds the backoff grows to
   * @param {(url: string, init: object) => Promise<Response>} options.fetch
   * @param {() => number} options.now the wall clock, ms since the epoch
   * @param {(callback: () => void, ms: number) => unknown} options.setTimeout
   * @param {(id: unknown) => void} options.clearTimeout
   * @param {Storage | null} [options.storage] localStorage, or null to keep the queue in memory only
   * @param {() => number} options.random in [0, 1): the backoff's jitter
   * @param {() => string} options.randomId a unique id: this queue's storage key
   * @param {(...args: unknown[]) => void} options.warn console.warn
   */
  constructor({ endpoint, key, maxBackoff, fetch, now, setTimeout, clearTimeout, storage = null, random, randomId, warn }) {
    // Called as plain functions, never as methods of this object (a browser's fetch or setTimeout
    // called on another `this` throws "Illegal invocation").
    this._fetch = (url, init) => fetch(url, init);
    this._now = () => now();
    this._setTimeout = (callback, ms) => setTimeout(callback, ms);
    this._clearTimeout = (id) => clearTimeout(id);
    this._random = () => random();
    this._warn = (...args) => warn(...args);
    this._url = endpoint.replace(/\/+$/, "") + "/";
    this._headers = { "Content-Type": "application/json" };
    if (key) this._headers.Authorization = `Bearer ${key}`;
    this._maxBackoff = maxBackoff;
    this._orphanAfterMs = Math.max(ORPHAN_AFTER_MIN_SECONDS, 3 * maxBackoff) * 1000;
    this._storage = storage ?? null;
    this._storageKey = STORAGE_PREFIX + randomId();
    this._events = [];
    this._inFlight = new Set(); // event_ids of requests not answered yet
    this._requests = 0; // requests in flight
    this._keepaliveBytes = 0; // bodies of keepalive requests in flight
    this._failures = 0; // consecutive failed attempts
    this._retryTimer = null;
    this._retryAt = 0; // now() at which the retry timer fires
    this._serverDelayUntil = 0; // now() before which the server asked us not to come back
    this._released = false;
    this._closed = false;
    this._idleWaiters = []; // flushNow() promises
    this._warned = new Set();
    this._adoptOrphans();
    this._kick();
  }

  /** Heartbeats not yet accepted. */
  get size() {
    return this._events.length;
  }

  add(event) {
    this._events.push(event);
    if (this._events.length > MAX_QUEUED) {
      const dropped = this._events.splice(0, this._events.length - MAX_QUEUED);
      this._warn(`watchtime: queue full, dropped the ${dropped.length} oldest heartbeats`);
    }
    this._persist();
    this._kick();
  }

  /** Back online: retry now rather than at the end of the backoff (never before a Retry-After). */
  retryNow() {
    if (this._retryTimer === null || this._now() < this._serverDelayUntil) return;
    this._cancelRetry();
    this._kick();
  }

  /** Resolves with the number still queued once the queue is empty or waits for a retry. */
  flushNow() {
    if (this._now() >= this._serverDelayUntil) this._cancelRetry();
    const idle = new Promise((resolve) => this._idleWaiters.push(resolve));
    this._kick();
    this._notifyIdle();
    return idle;
  }

  /** The page is going away (pagehide): the next page's queue may adopt what is left. */
  release() {
    this._released = true;
    this._persist();
  }

  /** Back from the back/forward cache: ours again. */
  reclaim() {
    this._released = false;
    this._persist();
    this._kick();
  }

  /**
   * One keepalive request with what is not in flight and fits what keepalive requests may still
   * carry, so it outlives the page; a server's Retry-After is still honoured (what stays queued is
   * in storage for the next page).
   */
  sendBeforeUnload() {
    if (this._now() >= this._serverDelayUntil) this._send(true);
  }

  /** No more sending but a last keepalive one; the record is released for the next page. */
  close() {
    this._closed = true;
    this._cancelRetry();
    this._released = true;
    this._persist();
    this.sendBeforeUnload();
  }

  _kick() {
    if (this._closed || this._requests > 0 || this._retryTimer !== null || this._events.length === 0) return;
    this._send(false);
  }

  async _send(keepaliveOnly) {
    const keepaliveRoom = KEEPALIVE_BUDGET_BYTES - this._keepaliveBytes;
    const { events: batch, bytes } = packBatch(this._events, {
      skip: this._inFlight,
      maxBytes: keepaliveOnly ? keepaliveRoom : MAX_BODY_BYTES,
    });
    if (batch.length === 0) return;
    // A larger body goes without keepalive (Chromium would refuse the request): it may not outlive the page.
    const keepalive = bytes <= keepaliveRoom;
    for (const event of batch) this._inFlight.add(event.event_id);
    this._requests += 1;
    if (keepalive) this._keepaliveBytes += bytes;
    const answer = await this._post(JSON.stringify(batch), keepalive);
    this._requests -= 1;
    if (keepalive) this._keepaliveBytes -= bytes;
    for (const event of batch) this._inFlight.delete(event.event_id);
    const outcome = classify(answer.status);
    if (outcome === "retry") {
      this._retryLater(answer.retryAfter);
    } else if (outcome === "done") {
      this._failures = 0;
      this._serverDelayUntil = 0;
      this._cancelRetry(); // the API answers again: no reason to wait
      this._remove(batch);
      if (!this._closed) this._adoptOrphans();
      this._kick();
    } else {
      this._drop(batch, answer);
      this._kick();
    }
    this._notifyIdle();
  }

  // {status, retryAfter, error}: status 0 when nothing was answered (offline, refused, CORS), so
  // nothing is known to be stored; `error` is the API's error object of a refusal.
  async _post(body, keepalive) {
    let response;
    try {
      response = await this._fetch(this._url, {
        method: "POST",
        headers: this._headers,
        body,
        credentials: "omit", // API keys, never cookies
        keepalive,
      });
    } catch {
      return { status: 0, retryAfter: null, error: null };
    }
    const answer = {
      status: response.status,
      retryAfter: parseRetryAfter(response.headers.get("Retry-After"), this._now()),
      error: null,
    };
    if (response.status >= 400) {
      try {
        answer.error = (await response.json())?.error ?? null;
      } catch {
        // not the API's JSON error shape (a proxy's page, a body cut off)
      }
    }
    return answer;
  }

  _notifyIdle() {
    if (this._requests > 0) return;
    if (this._events.length > 0 && this._retryTimer === null && !this._closed) return; // more to send
    for (const resolve of this._idleWaiters.splice(0)) resolve(this._events.length);
  }

  // Any other 4xx would fail again: drop (only the named events of a 400), never loop.
  _drop(batch, { status, error }) {
    const bad = refusedEvents(batch, status, error);
    const items = status === 400 ? error?.details?.items : undefined;
    this._warn(
      `watchtime: the API refused ${bad.length} heartbeat(s) (${refusalReason(status, error)}); dropped`,
      items ?? error ?? "",
    );
    this._remove(bad);
  }

  _retryLater(serverSeconds) {
    this._failures += 1;
    const now = this._now();
    if (serverSeconds !== null) this._serverDelayUntil = Math.max(this._serverDelayUntil, now + serverSeconds * 1000);
    this._persist(); // refreshes `touched`: a live queue is never adopted
    if (this._closed) return;
    const delay = retryDelaySeconds({
      failures: this._failures,
      maxBackoff: this._maxBackoff,
      retryAfter: this._serverDelayUntil > now ? (this._serverDelayUntil - now) / 1000 : null,
      random: this._random(),
    });
    const due = now + delay * 1000;
    if (this._retryTimer !== null && this._retryAt >= due) return; // already waiting as long
    this._cancelRetry();
    this._retryAt = due;
    this._retryTimer = this._setTimeout(() => {
      this._retryTimer = null;
      this._kick();
    }, timerMs(delay));
  }

  _cancelRetry() {
    if (this._retryTimer === null) return;
    this._clearTimeout(this._retryTimer);
    this._retryTimer = null;
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
        const record = { endpoint: this._url, touched: this._now(), released: this._released, events: this._events };
        this._storage.setItem(this._storageKey, encodeRecord(record));
      }
    } catch (error) {
      this._warnOnce("persist", "watchtime: cannot write localStorage; queued heartbeats live in memory only", error);
    }
  }

  // Takes over the records of queues whose page let them go or crashed (same endpoint only), and
  // removes records that are not ones.
  _adoptOrphans() {
    if (this._storage === null) return;
    try {
      const names = [];
      for (let i = 0; i < this._storage.length; i += 1) {
        const name = this._storage.key(i);
        if (name !== null && name.startsWith(STORAGE_PREFIX) && name !== this._storageKey) names.push(name);
      }
      for (const name of names) {
        const text = this._storage.getItem(name);
        if (text === null) continue; // adopted by another tab meanwhile
        const record = decodeRecord(text);
        if (record !== null && (record.endpoint !== this._url || !isOrphan(record, this._now(), this._orphanAfterMs))) {
          continue; // another API's queue, or a live one of another tab
        }
        const known = new Set(this._events.map((event) => event.event_id));
        const { events, invalid } = restoreEvents(record?.events ?? [], known);
        this._events.push(...events);
        if (record === null || invalid > 0) {
          this._warnOnce("restore", "watchtime: ignored stored queue entries that are not heartbeats", name);
        }
        this._persist(); // ours first: a crash in between can only duplicate, never lose
        this._storage.removeItem(name);
      }
    } catch (error) {
      this._warnOnce("adopt", "watchtime: cannot read localStorage", error);
    }
  }

  _warnOnce(topic, ...message) {
    if (this._warned.has(topic)) return;
    this._warned.add(topic);
    this._warn(...message);
  }
}
