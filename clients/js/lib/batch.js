// What one request carries: the next heartbeats of the queue, in order, as one JSON array within
// the API's limits, or within what a keepalive request may still carry. Pure functions.

export const MAX_BATCH = 1000; // events per request (the API's limit)
export const MAX_BODY_BYTES = 1000 * 1000; // the API refuses bodies over 1 MiB
// Browsers allow a page at most 64 KiB of keepalive request bodies in flight (Chromium rejects
// the fetch past it); the SDK keeps its own to 60 KiB, leaving the rest to the page.
export const KEEPALIVE_BUDGET_BYTES = 60 * 1024;

const encoder = new TextEncoder();

/** Bytes of `text` in UTF-8 (as fetch sends a string body). */
export function utf8Length(text) {
  return encoder.encode(text).length;
}

/**
 * The next request's events: the queue's first events whose event_id is not in `skip` (those of
 * requests in flight), in queue order, at most `maxEvents` of them, and no more than fit a JSON
 * array of `maxBytes`. Packing stops at the first event that does not fit, so a request never
 * overtakes an event of the queue. Returns `{events, bytes}`, `bytes` being exactly those of
 * `JSON.stringify(events)`.
 */
export function packBatch(queue, { skip = new Set(), maxEvents = MAX_BATCH, maxBytes = MAX_BODY_BYTES } = {}) {
  const events = [];
  let bytes = 2; // []
  for (const event of queue) {
    if (skip.has(event.event_id)) continue;
    if (events.length === maxEvents) break;
    const size = utf8Length(JSON.stringify(event)) + (events.length > 0 ? 1 : 0); // and its comma
    if (bytes + size > maxBytes) break;
    events.push(event);
    bytes += size;
  }
  return { events, bytes: events.length > 0 ? bytes : 0 };
}
