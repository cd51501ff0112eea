// What a heartbeat is and when the player sends one: the options' rules (the API's own), the
// heartbeat record, the position it carries and the seek throttle. Pure functions: the clock,
// the ids and the randomness are the caller's.

export const MAX_AT = 86400; // the API refuses positions past 24 h
// Seek heartbeats closer than this are one scrub: its intermediate positions were not watched.
export const SEEK_THROTTLE_MS = 1000;

const USER_RE = /^[\p{L}\p{N}_.@+-]{1,150}$/u;
const SLUG_RE = /^[-a-zA-Z0-9_]{1,100}$/;
// eslint-disable-next-line no-control-regex
const SESSION_RE = /^[^\u0000-\u001f\u007f]{0,64}$/u; // 64 code points, as the API counts
const LONE_SURROGATE_RE = /\p{Cs}/u;
const TS_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/**
 * The options of `track()`, checked and with their defaults; throws TypeError as `track()` does.
 * @returns {{endpoint: string, key: string | undefined, user: string, slug: string,
 *   session: string | null, intervalMs: number, maxBackoff: number, storage: boolean,
 *   onHeartbeat: Function | undefined}}
 */
export function readOptions(options = {}) {
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
  return {
    endpoint,
    key,
    user,
    slug,
    session: session ?? null, // null: a new id at the playback's first heartbeat
    intervalMs: interval * 1000,
    maxBackoff,
    storage: Boolean(storage),
    onHeartbeat: options.onHeartbeat,
  };
}

export function checkIdentity(user, slug) {
  if (typeof user !== "string" || !USER_RE.test(user)) {
    throw new TypeError("watchtime: `user` must be 1-150 letters, digits or @.+-_");
  }
  if (typeof slug !== "string" || !SLUG_RE.test(slug)) {
    throw new TypeError("watchtime: `slug` must be 1-100 letters, digits, '-' or '_'");
  }
}

export function validSession(session) {
  // No lone surrogate (JSON carries them, the API's UTF-8 storage cannot): with the u flag a lone
  // one is a code point of category Cs, a pair is not. (String#isWellFormed says the same, but
  // only from Chrome 111, Safari 16.4, Node 20.)
  return typeof session === "string" && SESSION_RE.test(session) && !LONE_SURROGATE_RE.test(session);
}

/**
 * The `at` of a heartbeat at media position `position` (seconds): `{at}`, or `{skip}` when none
 * can be sent: "no-position" (no media yet, a live stream) or "past-limit" (past MAX_AT).
 */
export function positionToAt(position) {
  const at = Math.floor(position);
  if (!Number.isFinite(at) || at < 0) return { skip: "no-position" };
  if (at > MAX_AT) return { skip: "past-limit" };
  return { at };
}

/** A heartbeat as the API takes it; `nowMs` is the player's wall clock (ms since the epoch). */
export function newHeartbeat({ eventId, user, slug, at, session, nowMs }) {
  return { event_id: eventId, user, slug, at, session, ts: new Date(nowMs).toISOString() };
}

/**
 * A heartbeat read back from storage, reduced to the API's six fields and held to the rules a new
 * one meets (so its size is bounded too); null when it is not one (another program's data, a hand
 * edit): such an entry is never sent.
 */
export function storedHeartbeat(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const { event_id: eventId, user, slug, at, session, ts } = value;
  const valid =
    typeof eventId === "string" && eventId.length >= 1 && eventId.length <= 36 &&
    typeof user === "string" && USER_RE.test(user) &&
    typeof slug === "string" && SLUG_RE.test(slug) &&
    Number.isInteger(at) && at >= 0 && at <= MAX_AT &&
    validSession(session) &&
    typeof ts === "string" && TS_RE.test(ts);
  return valid ? { event_id: eventId, user, slug, at, session, ts } : null;
}

/**
 * Whether a `seeking` at `nowMs` closes the watched segment with a heartbeat: not when it
 * continues a scrub (a seeked heartbeat less than SEEK_THROTTLE_MS ago).
 */
export function seekingBeats(nowMs, lastSeekedBeatMs) {
  return nowMs - lastSeekedBeatMs >= SEEK_THROTTLE_MS;
}

/** How long a `seeked` heartbeat waits (<= 0: none, send it now): one a SEEK_THROTTLE_MS at most. */
export function seekedWait(nowMs, lastSeekedBeatMs) {
  return lastSeekedBeatMs + SEEK_THROTTLE_MS - nowMs;
}

/**
 * A heartbeat's event id: a version 7 UUID (RFC 9562), its first 48 bits the wall clock in
 * milliseconds and the rest random from `crypto.getRandomValues`. Ids made close in time sit next
 * to each other in the API's index of event ids, so storing them writes less than random ones.
 */
export function eventId(crypto, nowMs) {
  const b = crypto.getRandomValues(new Uint8Array(16));
  let ms = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  return formatUuid(b);
}

function formatUuid(b) {
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A random v4 UUID from `crypto` (the Web Crypto object), for sessions and storage keys:
 * `randomUUID` where the page is a secure context, the same format from `getRandomValues`
 * elsewhere (a page on plain http).
 */
export function randomId(crypto) {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return formatUuid(b);
}
