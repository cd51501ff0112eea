// The retry policy (lib/retry.js): pure functions, so plain inputs and outputs.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAX_TIMER_MS,
  backoffSeconds,
  classify,
  parseRetryAfter,
  refusalReason,
  refusedEvents,
  retryDelaySeconds,
  timerMs,
} from "../lib/retry.js";

test("no answer, 408, 429 and 5xx are retried; 2xx is done; any other status is dropped", () => {
  for (const status of [0, 408, 429, 500, 502, 503, 504, 599]) assert.equal(classify(status), "retry", `${status}`);
  for (const status of [200, 201, 202, 204, 299]) assert.equal(classify(status), "done", `${status}`);
  for (const status of [300, 304, 400, 401, 403, 404, 405, 409, 413, 415, 422, 451, 499]) {
    assert.equal(classify(status), "drop", `${status}`);
  }
});

test("the backoff doubles from 1 s per consecutive failure up to maxBackoff", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffSeconds(n, 60)), [1, 2, 4, 8, 16, 32, 60, 60]);
  assert.deepEqual([1, 2, 3].map((n) => backoffSeconds(n, 3)), [1, 2, 3]);
  assert.equal(backoffSeconds(5000, 60), 60); // 2^4999 is Infinity: still capped
  assert.equal(backoffSeconds(0, 60), 1);
});

test("the jitter keeps a delay within [half the backoff, the backoff)", () => {
  for (const failures of [1, 3, 6, 10]) {
    const backoff = backoffSeconds(failures, 60);
    assert.equal(retryDelaySeconds({ failures, maxBackoff: 60, random: 0 }), backoff / 2);
    const highest = retryDelaySeconds({ failures, maxBackoff: 60, random: 1 - Number.EPSILON });
    assert.ok(highest < backoff && highest > backoff * 0.999, `${highest} of ${backoff}`);
    for (let i = 0; i < 100; i += 1) {
      const delay = retryDelaySeconds({ failures, maxBackoff: 60, random: Math.random() });
      assert.ok(delay >= backoff / 2 && delay < backoff, `${delay} of ${backoff}`);
    }
  }
});

test("the delay is never shorter than the server's Retry-After, which may exceed maxBackoff", () => {
  assert.equal(retryDelaySeconds({ failures: 1, maxBackoff: 60, retryAfter: 5, random: 0.5 }), 5);
  assert.equal(retryDelaySeconds({ failures: 1, maxBackoff: 60, retryAfter: 600, random: 0.5 }), 600);
  assert.equal(retryDelaySeconds({ failures: 7, maxBackoff: 60, retryAfter: 1, random: 0 }), 30); // the backoff is longer
  assert.equal(retryDelaySeconds({ failures: 1, maxBackoff: 60, retryAfter: null, random: 0 }), 0.5);
});

test("Retry-After in seconds", () => {
  const now = Date.UTC(2026, 0, 1);
  assert.equal(parseRetryAfter("5", now), 5);
  assert.equal(parseRetryAfter(" 120 ", now), 120);
  assert.equal(parseRetryAfter("0", now), 0);
  assert.equal(parseRetryAfter("1.5", now), 1.5);
});

test("Retry-After as an HTTP-date, relative to the caller's clock", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 12:00:30 GMT", now), 30);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 12:00:30 GMT", now + 10_000), 20);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 11:00:00 GMT", now), 0); // in the past: at once
});

test("an absent or unreadable Retry-After is none", () => {
  const now = Date.UTC(2026, 0, 1);
  for (const value of [null, undefined, "", "  ", "soon", "-5", "5s", "0x10", "1e3", "Thu, 99 Foo 2026"]) {
    assert.equal(parseRetryAfter(value, now), null, JSON.stringify(value));
  }
});

test("timer delays are whole milliseconds, never negative, never past setTimeout's 2^31 - 1 ms", () => {
  assert.equal(timerMs(1.5), 1500);
  assert.equal(timerMs(0.0001), 1);
  assert.equal(timerMs(-3), 0);
  assert.equal(timerMs(86400 * 30), MAX_TIMER_MS); // 30 days would otherwise fire at once
  assert.equal(timerMs(Infinity), MAX_TIMER_MS);
});

test("a 400 naming items drops those items only", () => {
  const batch = ["a", "b", "c", "d"].map((event_id) => ({ event_id }));
  const error = { code: "invalid", message: "x", details: { items: { 1: { ts: ["future"] }, 3: { at: ["big"] } } } };
  assert.deepEqual(refusedEvents(batch, 400, error).map((e) => e.event_id), ["b", "d"]);
});

test("any other refusal drops the whole batch", () => {
  const batch = ["a", "b"].map((event_id) => ({ event_id }));
  const all = ["a", "b"];
  const ids = (events) => events.map((e) => e.event_id);
  assert.deepEqual(ids(refusedEvents(batch, 400, { code: "parse_error", details: {} })), all);
  assert.deepEqual(ids(refusedEvents(batch, 400, null)), all); // a proxy's 400 page
  assert.deepEqual(ids(refusedEvents(batch, 400, { details: { items: { 7: {} } } })), all); // names none of ours
  assert.deepEqual(ids(refusedEvents(batch, 401, { code: "authentication_failed", details: { items: { 0: {} } } })), all);
  assert.deepEqual(ids(refusedEvents(batch, 413, null)), all);
});

test("a refusal is described by the API's error, or by its status", () => {
  assert.equal(refusalReason(401, { code: "authentication_failed", message: "Bad key." }), "authentication_failed: Bad key.");
  assert.equal(refusalReason(403, null), "HTTP 403");
  assert.equal(refusalReason(400, "not an object"), "HTTP 400");
});
