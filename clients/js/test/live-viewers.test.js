// <watchtime-live-viewers>'s pure parts (watchtime-live-viewers.js): its URL, texts and delays, and
// the poller with a fake fetch and fake timers. (The element itself runs in headless Chromium:
// tests/browser/test_live_viewers.py.)
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  LivePoller,
  MAX_BACKOFF_SECONDS,
  POLL_SECONDS,
  defineLiveViewers,
  errorText,
  liveUrl,
  nextPollSeconds,
  viewersText,
} from "../watchtime-live-viewers.js";

test("the URL names the movie and carries the token, encoded, whatever the endpoint's trailing slashes", () => {
  assert.equal(liveUrl("https://w.example", 42, "wtl_42_1_ab-_"), "https://w.example/movies/42/live/?token=wtl_42_1_ab-_");
  assert.equal(liveUrl("https://w.example/api//", "7", "a b&c"), "https://w.example/api/movies/7/live/?token=a%20b%26c");
  assert.equal(liveUrl("https://w.example", "../x", "t"), "https://w.example/movies/..%2Fx/live/?token=t");
});

test("texts: the count, and errors that say what the page's owner can fix", () => {
  assert.equal(viewersText(0), "0 watching now");
  assert.equal(viewersText(1234), "1234 watching now");
  assert.match(errorText(401), /invalid or expired/);
  assert.match(errorText(403), /another movie/);
  assert.match(errorText(404), /no such movie/);
  for (const status of [0, 429, 500, 503]) assert.equal(errorText(status), "Live count unavailable.");
});

test("polls every 10 s; backs off from 20 s, doubling to at most 300 s, jittered but never under 10 s", () => {
  assert.equal(nextPollSeconds({ failures: 0, random: 0.7 }), POLL_SECONDS);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((failures) => nextPollSeconds({ failures, random: 0.999999 }).toFixed(3)),
    ["20.000", "40.000", "80.000", "160.000", "300.000", "300.000"]);
  assert.deepEqual([1, 2, 5].map((failures) => nextPollSeconds({ failures, random: 0 })), [10, 20, 150]);
  assert.equal(nextPollSeconds({ failures: 6, random: 0.5 }) <= MAX_BACKOFF_SECONDS, true);
  assert.equal(nextPollSeconds({ failures: 1, random: 0, retryAfter: 120 }), 120);
});

function fakes(answers) {
  const timers = [];
  const requests = [];
  return {
    timers,
    requests,
    env: {
      fetch: async (url, init) => {
        requests.push({ url, init });
        const answer = answers.shift();
        if (answer instanceof Error) throw answer;
        return {
          ok: answer.status >= 200 && answer.status < 300,
          status: answer.status,
          headers: { get: (name) => (answer.headers ?? {})[name] ?? null },
          json: async () => answer.body,
        };
      },
      setTimeout: (callback, ms) => timers.push({ callback, ms }) - 1,
      clearTimeout: (id) => { timers[id].cleared = true; },
      now: () => 0,
      random: () => 0.999999,
    },
  };
}

async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

test("the poller reports each answer and schedules the next read by it, until stopped", async () => {
  const { env, timers, requests } = fakes([
    { status: 200, body: { viewers: 3 } },
    { status: 503, headers: { "Retry-After": "60" } },
    new TypeError("offline"),
    { status: 200, body: { viewers: 5 } },
  ]);
  const states = [];
  const poller = new LivePoller({ url: "https://w.example/movies/1/live/?token=t", env, onState: (s) => states.push(s) });
  poller.start();
  for (let i = 0; i < 3; i++) {
    await settle();
    timers.at(-1).callback();
  }
  await settle();
  assert.deepEqual(states, [{ state: "ok", viewers: 3 }, { state: "error", status: 503 }, { state: "error", status: 0 },
    { state: "ok", viewers: 5 }]);
  assert.deepEqual(timers.map((t) => Math.round(t.ms / 1000)), [10, 60, 40, 10]); // Retry-After, then 2 failures: 40 s
  assert.equal(requests.length, 4);
  assert.deepEqual(requests[0].init, { credentials: "omit", cache: "no-store" }); // no cookies, no stale count
  poller.stop();
  assert.equal(timers.at(-1).cleared, true);
});

test("an answer arriving after stop() changes nothing and schedules nothing", async () => {
  const { env, timers } = fakes([{ status: 200, body: { viewers: 3 } }]);
  const states = [];
  const poller = new LivePoller({ url: "u", env, onState: (s) => states.push(s) });
  poller.start();
  poller.stop();
  await settle();
  assert.deepEqual([states, timers], [[], []]);
});

test("importing without a DOM defines nothing; a registry gets the element once", () => {
  const defined = [];
  const registry = { get: (name) => defined.find(([n]) => n === name), define: (...args) => defined.push(args) };
  globalThis.HTMLElement = class {};
  try {
    defineLiveViewers(registry);
    defineLiveViewers(registry);
  } finally {
    delete globalThis.HTMLElement;
  }
  assert.deepEqual(defined.map(([name]) => name), ["watchtime-live-viewers"]);
  assert.deepEqual(defined[0][1].observedAttributes, ["endpoint", "movie", "token"]);
});
