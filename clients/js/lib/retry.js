// The send queue's retry policy: what an answer means for a batch, how long to wait before the
// next attempt, and what a refusal drops. Pure functions: the clock and the randomness are the
// caller's.

export const BACKOFF_BASE_SECONDS = 1;
// setTimeout fires at once when given more than 2^31 - 1 ms (24.8 days): longer waits are capped.
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * What an answer means for the batch it answers: "done" (2xx: stored), "retry" (no answer, i.e.
 * status 0: offline, refused, CORS; 408, 429, 5xx: may succeed later) or "drop" (any other
 * status: the same request would fail again).
 */
export function classify(status) {
  if (status === 0 || status === 408 || status === 429 || status >= 500) return "retry";
  if (status >= 200 && status < 300) return "done";
  return "drop";
}

/** The backoff after `failures` consecutive failed attempts (1, 2, 4, ... seconds, at most `maxBackoff`). */
export function backoffSeconds(failures, maxBackoff) {
  return Math.min(maxBackoff, BACKOFF_BASE_SECONDS * 2 ** Math.max(0, failures - 1));
}

/**
 * Seconds until the next attempt: the backoff, jittered down to half of it by `random` (in [0, 1):
 * tabs that failed together do not come back together), and never sooner than the server's
 * Retry-After (seconds, or null).
 */
export function retryDelaySeconds({ failures, maxBackoff, retryAfter = null, random }) {
  const jittered = backoffSeconds(failures, maxBackoff) * (0.5 + random / 2);
  return Math.max(jittered, retryAfter ?? 0);
}

/** A delay in seconds as setTimeout's milliseconds: whole, not negative, at most MAX_TIMER_MS. */
export function timerMs(seconds) {
  return Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(seconds * 1000)));
}

/**
 * The seconds a Retry-After header asks for, from `nowMs`: delta-seconds or an HTTP-date (a date
 * in the past: 0); null when absent or unreadable.
 */
export function parseRetryAfter(value, nowMs) {
  if (typeof value !== "string") return null;
  const text = value.trim();
  if (text === "") return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  if (!/[a-z]/i.test(text)) return null; // an HTTP-date names its day and month; Date.parse("-1") would not care
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, (date - nowMs) / 1000);
}

/**
 * The events of a refused batch to drop: of a 400 whose error names items
 * (`error.details.items`, keyed by index in the array), only those; otherwise all of them.
 */
export function refusedEvents(batch, status, error) {
  const items = status === 400 ? error?.details?.items : null;
  if (items && typeof items === "object") {
    const named = batch.filter((_, index) => Object.hasOwn(items, String(index)));
    if (named.length > 0) return named;
  }
  return batch;
}

/** The refusal in a warning: the API's error code and message, or the bare status. */
export function refusalReason(status, error) {
  return error && typeof error === "object" ? `${error.code}: ${error.message}` : `HTTP ${status}`;
}
