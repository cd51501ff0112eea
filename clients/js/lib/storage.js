// The queue's copy in localStorage: one record per queue under a key of its own, and which
// records another queue may adopt. Pure functions; the queue does the reading and writing.

import { storedHeartbeat } from "./heartbeat.js";

export const STORAGE_PREFIX = "watchtime:v1:queue:";
const RECORD_VERSION = 1;

/**
 * A queue's record: its API URL, when it last wrote (`touched`, ms since the epoch), whether its
 * page let it go (`released`: pagehide or stop()) and its events.
 */
export function encodeRecord({ endpoint, touched, released, events }) {
  return JSON.stringify({ v: RECORD_VERSION, endpoint, touched, released, events });
}

/**
 * A stored record as read back, or null when the text cannot be one (unparsable, not a record of
 * this version, no endpoint): the reader removes those. `touched` is NaN when unreadable, so such
 * a record counts as abandoned; `events` holds whatever was stored (see `restoreEvents`).
 */
export function decodeRecord(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  if (value.v !== RECORD_VERSION || typeof value.endpoint !== "string") return null;
  return {
    endpoint: value.endpoint,
    touched: typeof value.touched === "number" ? value.touched : NaN,
    released: value.released === true,
    events: Array.isArray(value.events) ? value.events : [],
  };
}

/**
 * Whether another queue may take over `record` at `nowMs`: its page let it go, or it has not
 * written for `orphanAfterMs` (a live queue writes at least at each attempt: its page crashed).
 * A `touched` as far in the future was written by a clock that was wrong: abandoned too.
 */
export function isOrphan(record, nowMs, orphanAfterMs) {
  return record.released || !(Math.abs(nowMs - record.touched) <= orphanAfterMs);
}

/**
 * The heartbeats of a stored record that are not yet in `known` (a Set of event_ids), in stored
 * order, each once; `invalid` counts the entries that are not heartbeats (never sent).
 */
export function restoreEvents(stored, known) {
  const events = [];
  const seen = new Set(known);
  let invalid = 0;
  for (const entry of stored) {
    const event = storedHeartbeat(entry);
    if (event === null) {
      invalid += 1;
    } else if (!seen.has(event.event_id)) {
      seen.add(event.event_id);
      events.push(event);
    }
  }
  return { events, invalid };
}
