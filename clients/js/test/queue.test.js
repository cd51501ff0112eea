// The send queue (lib/queue.js) against fakes of fetch, the clock, the timers and localStorage.
import assert from "node:assert/strict";
import { test } from "node:test";

import { KEEPALIVE_BUDGET_BYTES, utf8Length } from "../lib/batch.js";
import { MAX_QUEUED, SendQueue } from "../lib/queue.js";
import { MAX_TIMER_MS } from "../lib/retry.js";
import { FakeStorage, apiError, heartbeat, held, queueEnv, settle } from "./fakes.js";

const ENDPOINT = "https://api.example/";
const ids = (events) => events.map((event) => event.event_id);
const offline = () => new TypeError("Failed to fetch");

function start(overrides = {}) {
  const { env, clock, warnings } = queueEnv(overrides);
  const queue = new SendQueue(env);
  return { queue, clock, warnings, fetch: env.fetch, storage: env.storage };
}

/** Answers in turn (the last one repeats). */
function answers(...list) {
  let i = 0;
  return () => {
    const answer = list[Math.min(i, list.length - 1)];
    i += 1;
    return typeof answer === "function" ? answer() : answer;
  };
}

/** A queue whose first send failed, holding `events` for its next attempt (sent as one array). */
async function backlog(events, overrides = {}) {
  const started = start(overrides);
  const next = started.fetch.respond;
  started.fetch.respond = answers(offline(), next);
  for (const event of events) started.queue.add(event);
  await settle();
  assert.equal(started.queue.size, Math.min(events.length, MAX_QUEUED));
  return started;
}

test("a heartbeat goes to POST <endpoint>/ as a JSON array, with the key, without credentials", async () => {
  const { queue, fetch } = start({ endpoint: "https://api.example///" });
  const event = heartbeat();
  queue.add(event);
  assert.equal(fetch.calls.length, 1);
  const [{ url, init, events }] = fetch.calls;
  assert.equal(url, ENDPOINT);
  assert.equal(init.method, "POST");
  assert.deepEqual(init.headers, { "Content-Type": "application/json", Authorization: "Bearer wt_key" });
  assert.equal(init.credentials, "omit");
  assert.equal(init.keepalive, true);
  assert.deepEqual(events, [event]);
  assert.equal(queue.size, 1);
  await settle();
  assert.equal(queue.size, 0);
});

test("without a key, no Authorization header", () => {
  const { queue, fetch } = start({ key: undefined });
  queue.add(heartbeat());
  assert.deepEqual(fetch.calls[0].init.headers, { "Content-Type": "application/json" });
});

test("one request at a time; what queues meanwhile goes next, in order, up to 1000 per array", async () => {
  let active = 0;
  let most = 0;
  const first = held();
  const { queue, fetch } = start();
  fetch.respond = answers(() => first.promise, async () => {
    active += 1;
    most = Math.max(most, active);
    await null;
    active -= 1;
    return 202;
  });
  const events = Array.from({ length: 2501 }, (_, at) => heartbeat({ at }));
  for (const event of events) queue.add(event);
  assert.equal(fetch.calls.length, 1); // the first is in flight, the rest wait
  first.release(202);
  await settle();
  assert.deepEqual(fetch.calls.map((call) => call.events.length), [1, 1000, 1000, 500]);
  assert.deepEqual(fetch.calls.flatMap((call) => ids(call.events)), ids(events));
  assert.equal(most, 1);
  assert.equal(queue.size, 0);
});

test("a failed send is retried with the same event_ids, coalesced, after a backoff doubling to maxBackoff", async () => {
  const { queue, fetch, clock } = start({ maxBackoff: 8, random: () => 0 }); // jitter 0: half the backoff
  fetch.respond = () => offline();
  const [a, b] = [heartbeat(), heartbeat()];
  queue.add(a);
  await settle();
  assert.deepEqual(clock.pending(), [500]);
  queue.add(b); // waits for the retry
  assert.equal(fetch.calls.length, 1);
  const waits = [];
  for (let attempt = 0; attempt < 5; attempt += 1) {
    waits.push(clock.pending()[0]);
    await clock.advance(clock.pending()[0]);
  }
  assert.deepEqual(waits, [500, 1000, 2000, 4000, 4000]); // 1, 2, 4, 8, 8 s jittered to half
  assert.deepEqual(fetch.calls.map((call) => ids(call.events)), [[a.event_id], ...Array(5).fill([a.event_id, b.event_id])]);
  assert.deepEqual(fetch.calls[5].events, [a, b]); // the same heartbeats, ts and all
  fetch.respond = () => 202;
  await clock.advance(clock.pending()[0]);
  assert.equal(queue.size, 0);
  assert.deepEqual(clock.pending(), []);
});

test("the jitter spreads a retry over [half the backoff, the backoff)", async () => {
  for (const [random, wait] of [[0, 500], [0.5, 750], [0.999, 999.5]]) {
    const { queue, fetch, clock } = start({ random: () => random });
    fetch.respond = () => offline();
    queue.add(heartbeat());
    await settle();
    assert.deepEqual(clock.pending(), [Math.ceil(wait)]);
  }
});

test("408, 429 and 5xx are retried, never sooner than their Retry-After seconds", async () => {
  for (const status of [408, 429, 500, 502, 503, 504]) {
    const { queue, fetch, clock } = start();
    fetch.respond = answers(apiError(status, "x", {}, { "Retry-After": "7" }), 202);
    queue.add(heartbeat());
    await settle();
    assert.deepEqual(clock.pending(), [7000], `${status}`);
    await clock.advance(6999);
    assert.equal(fetch.calls.length, 1);
    await clock.advance(1);
    assert.equal(fetch.calls.length, 2);
    assert.equal(queue.size, 0);
  }
});

test("a Retry-After HTTP-date is honoured", async () => {
  const { queue, fetch, clock } = start();
  const date = new Date(clock.now() + 30_000).toUTCString();
  fetch.respond = answers(apiError(503, "broker_unavailable", {}, { "Retry-After": date }), 202);
  queue.add(heartbeat());
  await settle();
  assert.deepEqual(clock.pending(), [30_000]);
});

test("a Retry-After past what setTimeout can wait is capped, not a retry at once in a loop", async () => {
  const { queue, fetch, clock } = start();
  fetch.respond = () => apiError(503, "x", {}, { "Retry-After": "99999999" });
  queue.add(heartbeat());
  await settle();
  assert.deepEqual(clock.pending(), [MAX_TIMER_MS]);
  assert.equal(fetch.calls.length, 1);
});

test("back online or flush(): the backoff is skipped, a Retry-After is not", async () => {
  const { queue, fetch, clock } = start();
  fetch.respond = answers(offline(), offline(), apiError(429, "throttled", {}, { "Retry-After": "30" }), 202);
  queue.add(heartbeat());
  await settle();
  queue.retryNow(); // `online`
  assert.equal(fetch.calls.length, 2);
  await settle();
  assert.equal(await queue.flushNow(), 1); // sent at once, failed again: resolves with what is left
  assert.equal(fetch.calls.length, 3); // answered 429, Retry-After 30
  queue.retryNow();
  assert.equal(await queue.flushNow(), 1);
  assert.equal(fetch.calls.length, 3);
  await clock.advance(30_000);
  assert.equal(fetch.calls.length, 4);
  assert.equal(await queue.flushNow(), 0);
});

test("a success resets the backoff", async () => {
  const { queue, fetch, clock } = start({ random: () => 0 });
  fetch.respond = answers(offline(), offline(), 202, offline());
  queue.add(heartbeat());
  await settle();
  await clock.advance(500);
  assert.deepEqual(clock.pending(), [1000]);
  await clock.advance(1000); // 202
  assert.deepEqual(clock.pending(), []);
  queue.add(heartbeat()); // fails
  await settle();
  assert.deepEqual(clock.pending(), [500]);
});

test("a Retry-After answered while a retry is already due sooner puts that retry off", async () => {
  const { queue, fetch, clock } = start({ random: () => 0 });
  fetch.respond = answers(offline(), apiError(503, "x", {}, { "Retry-After": "30" }), 202);
  queue.add(heartbeat());
  await settle();
  assert.deepEqual(clock.pending(), [500]);
  queue.sendBeforeUnload(); // page hidden: the same heartbeat once more, answered 503 + Retry-After 30
  await settle();
  assert.deepEqual(clock.pending(), [30_000]);
  await clock.advance(29_999);
  assert.equal(fetch.calls.length, 2);
  await clock.advance(1);
  assert.equal(fetch.calls.length, 3);
  assert.equal(queue.size, 0);
});

test("a 401 (any 4xx but 408 and 429) is dropped with a warning and never sent again", async () => {
  const { queue, fetch, clock, warnings } = start();
  fetch.respond = () => apiError(401, "authentication_failed");
  queue.add(heartbeat());
  await settle();
  assert.equal(queue.size, 0);
  assert.deepEqual(clock.pending(), []);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /refused 1 heartbeat\(s\) \(authentication_failed: authentication_failed!\); dropped/);
  queue.add(heartbeat());
  await settle();
  assert.equal(fetch.calls.length, 2); // each sent once
});

test("a 400 naming items drops those; the rest go again at once with their event_ids", async () => {
  const events = [heartbeat(), heartbeat({ at: 1 }), heartbeat({ at: 2 }), heartbeat({ at: 3 })];
  const { queue, fetch, clock, warnings } = await backlog(events);
  const items = { 1: { ts: ["Must not be more than 5 minutes in the future."] }, 2: { ts: ["..."] } };
  fetch.respond = answers(apiError(400, "invalid", { items }), 202);
  await clock.advance(clock.pending()[0]);
  assert.deepEqual(fetch.calls.map((call) => ids(call.events)), [
    [events[0].event_id],
    ids(events),
    [events[0].event_id, events[3].event_id],
  ]);
  assert.equal(queue.size, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /refused 2 heartbeat\(s\) \(invalid: invalid!\); dropped/);
  assert.match(warnings[0], /Must not be more than 5 minutes/);
});

test("a refusal that names nothing, or is not the API's JSON, drops the whole batch", async () => {
  for (const answer of [
    () => apiError(400, "parse_error"),
    () => new Response("<html>Forbidden</html>", { status: 403 }),
    () => new Response("{", { status: 400 }),
  ]) {
    const { queue, fetch, clock, warnings } = await backlog([heartbeat(), heartbeat()]);
    fetch.respond = answer;
    await clock.advance(clock.pending()[0]);
    assert.equal(queue.size, 0);
    assert.equal(fetch.calls.length, 2);
    assert.match(warnings[0], /refused 2 heartbeat\(s\)/);
  }
});

test("a body within the keepalive budget is sent with keepalive; a larger one without", async () => {
  const events = Array.from({ length: 600 }, (_, at) => heartbeat({ at }));
  const { fetch, clock } = await backlog(events);
  await clock.advance(clock.pending()[0]);
  const body = fetch.calls[1].init.body;
  assert.ok(utf8Length(body) > KEEPALIVE_BUDGET_BYTES);
  assert.equal(fetch.calls[1].init.keepalive, false);
  assert.equal(fetch.calls[1].events.length, 600); // one array all the same
  assert.equal(fetch.calls[0].init.keepalive, true);
});

test("before unload, keepalive carries what fits beside the keepalive bodies in flight; the rest waits in storage", async () => {
  const first = Array.from({ length: 200 }, (_, at) => heartbeat({ at }));
  const { queue, fetch, clock, storage } = await backlog(first);
  const inFlight = held();
  fetch.respond = () => inFlight.promise;
  await clock.advance(clock.pending()[0]); // the 200 go out with keepalive, and stay in flight
  const firstBytes = utf8Length(fetch.calls[1].init.body);
  assert.equal(fetch.calls[1].init.keepalive, true);
  const more = Array.from({ length: 300 }, (_, at) => heartbeat({ at: 200 + at }));
  for (const event of more) queue.add(event); // one request at a time: these wait
  assert.equal(fetch.calls.length, 2);
  queue.release();
  queue.sendBeforeUnload(); // pagehide
  assert.equal(fetch.calls.length, 3);
  const last = fetch.calls[2];
  assert.equal(last.init.keepalive, true);
  const lastBytes = utf8Length(last.init.body);
  assert.ok(firstBytes + lastBytes <= KEEPALIVE_BUDGET_BYTES, `${firstBytes} + ${lastBytes}`);
  assert.deepEqual(ids(last.events), ids(more.slice(0, last.events.length))); // the next ones, in order
  assert.ok(last.events.length > 50 && last.events.length < 300, `${last.events.length}`);
  const [record] = Object.values(storage.records());
  assert.equal(record.released, true);
  assert.deepEqual(ids(record.events), ids([...first, ...more])); // all still there until answered
  queue.sendBeforeUnload(); // the budget is used up: nothing more
  assert.equal(fetch.calls.length, 3);
});

test("a Retry-After holds back the unload send too", async () => {
  const { queue, fetch } = start();
  fetch.respond = () => apiError(503, "x", {}, { "Retry-After": "60" });
  queue.add(heartbeat());
  await settle();
  queue.sendBeforeUnload();
  assert.equal(fetch.calls.length, 1);
});

test("the queue is mirrored to storage under a key of its own, and the key removed once empty", async () => {
  const { queue, fetch, clock, storage } = start();
  const answer = held();
  fetch.respond = () => answer.promise;
  const event = heartbeat();
  queue.add(event);
  const records = storage.records();
  assert.equal(Object.keys(records).length, 1);
  const [key] = Object.keys(records);
  assert.match(key, /^watchtime:v1:queue:.+/);
  assert.deepEqual(records[key], { v: 1, endpoint: ENDPOINT, touched: clock.now(), released: false, events: [event] });
  answer.release(202);
  await settle();
  assert.deepEqual(storage.records(), {});
  assert.equal(storage.map.size, 0);
});

test("without storage the queue works in memory", async () => {
  const { queue, fetch, clock } = start({ storage: null });
  fetch.respond = answers(offline(), 202);
  queue.add(heartbeat());
  await settle();
  await clock.advance(clock.pending()[0]);
  assert.equal(queue.size, 0);
});

test("a queue released at pagehide is adopted by the next page's queue and sent at once", async () => {
  const storage = new FakeStorage();
  const events = [heartbeat(), heartbeat({ at: 10 })];
  const left = start({ storage });
  left.fetch.respond = () => offline();
  for (const event of events) left.queue.add(event);
  await settle();
  left.queue.release();
  const next = start({ storage });
  assert.deepEqual(next.fetch.calls.map((call) => call.events), [events]);
  await settle();
  assert.equal(next.queue.size, 0);
  assert.deepEqual(storage.records(), {}); // the released record was taken over, then emptied
});

test("a queue of a crashed page is adopted once it has not written for 5 minutes (3 x maxBackoff if longer)", async () => {
  const stored = (ageMs, clockNow, extra = {}) =>
    JSON.stringify({ v: 1, endpoint: ENDPOINT, touched: clockNow - ageMs, released: false, events: [heartbeat()], ...extra });
  const now = Date.UTC(2026, 0, 1);
  const cases = [
    [299_000, 60, false],
    [301_000, 60, true],
    [301_000, 200, false], // orphaned after 600 s
    [601_000, 200, true],
  ];
  for (const [age, maxBackoff, adopted] of cases) {
    const storage = new FakeStorage({ entries: { "watchtime:v1:queue:other-tab": stored(age, now) } });
    const { fetch } = start({ storage, maxBackoff });
    assert.equal(fetch.calls.length, adopted ? 1 : 0, `${age} ms, maxBackoff ${maxBackoff}`);
    assert.equal("watchtime:v1:queue:other-tab" in Object.fromEntries(storage.map), !adopted);
  }
});

test("restoring leaves other APIs' records and other keys alone, removes corrupt records, sends only heartbeats", async () => {
  const good = heartbeat();
  const ours = (events, extra = {}) => JSON.stringify({ v: 1, endpoint: ENDPOINT, touched: 0, released: true, events, ...extra });
  const entries = {
    "another-app:queue": "not ours",
    "watchtime:v1:queue:corrupt": "{not json",
    "watchtime:v1:queue:null": "null",
    "watchtime:v1:queue:other-api": ours([heartbeat()], { endpoint: "https://other.example/" }),
    "watchtime:v1:queue:mixed": ours([good, "junk", { event_id: "x", user: "u" }, { ...good }, null]),
  };
  const storage = new FakeStorage({ entries });
  const { queue, fetch, warnings } = start({ storage });
  assert.deepEqual(fetch.calls.map((call) => call.events), [[good]]);
  await settle();
  assert.equal(queue.size, 0);
  assert.deepEqual([...storage.map.keys()].sort(), ["another-app:queue", "watchtime:v1:queue:other-api"]);
  assert.equal(storage.map.get("another-app:queue"), "not ours");
  assert.equal(warnings.length, 1); // once
  assert.match(warnings[0], /ignored stored queue entries that are not heartbeats/);
});

test("a stored entry too large for any request cannot stall the queue", async () => {
  // The old queue adopted any object with an event_id: one bigger than a request body was never
  // sent, never dropped, and every heartbeat queued behind it waited forever.
  const huge = { ...heartbeat(), user: "u".repeat(1_100_000) };
  const record = JSON.stringify({ v: 1, endpoint: ENDPOINT, touched: 0, released: true, events: [huge] });
  const storage = new FakeStorage({ entries: { "watchtime:v1:queue:big": record } });
  const { queue, fetch } = start({ storage });
  queue.add(heartbeat());
  assert.equal(fetch.calls.length, 1);
  assert.equal(await queue.flushNow(), 0);
});

test("queues of other tabs are adopted after a success too (a tab that crashed while this one ran)", async () => {
  const storage = new FakeStorage();
  const { queue, fetch, clock } = start({ storage });
  const orphan = heartbeat();
  queue.add(heartbeat());
  await settle();
  storage.setItem("watchtime:v1:queue:crashed", JSON.stringify({
    v: 1, endpoint: ENDPOINT, touched: clock.now() - 400_000, released: false, events: [orphan] }));
  queue.add(heartbeat());
  await settle();
  assert.deepEqual(ids(fetch.calls[2].events), [orphan.event_id]);
  assert.equal(queue.size, 0);
});

test("a full storage (quota) is warned about once; the queue goes on in memory", async () => {
  const storage = new FakeStorage({ quota: 100 });
  const { queue, fetch, clock, warnings } = start({ storage });
  fetch.respond = answers(offline(), offline(), 202);
  queue.add(heartbeat());
  queue.add(heartbeat());
  await settle();
  await clock.advance(clock.pending()[0]);
  await clock.advance(clock.pending()[0]);
  assert.equal(queue.size, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /cannot write localStorage; queued heartbeats live in memory only/);
  assert.match(warnings[0], /QuotaExceededError/);
});

test("storage that throws at every access (disabled) is warned about; the queue still sends", async () => {
  const storage = new FakeStorage();
  storage.broken = true;
  const { queue, warnings } = start({ storage });
  queue.add(heartbeat());
  await settle();
  assert.equal(queue.size, 0);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /^watchtime: cannot read localStorage SecurityError/);
  assert.match(warnings[1], /^watchtime: cannot write localStorage; .* SecurityError/);
});

test("past 5000 queued, the oldest are dropped with a warning", async () => {
  const events = Array.from({ length: MAX_QUEUED + 1 }, (_, at) => heartbeat({ at: at % 86400 }));
  const { queue, warnings } = await backlog(events, { storage: null });
  assert.equal(queue.size, MAX_QUEUED);
  assert.match(warnings.at(-1), /queue full, dropped the 1 oldest heartbeats/);
});

test("close(): one last keepalive send, the record released, no timer left, no retry after", async () => {
  const { queue, fetch, clock, storage } = start();
  fetch.respond = () => offline();
  const [a, b] = [heartbeat(), heartbeat()];
  queue.add(a);
  await settle();
  queue.add(b);
  assert.equal(clock.pending().length, 1);
  queue.close();
  assert.deepEqual(clock.pending(), []);
  assert.equal(fetch.calls.length, 2);
  assert.equal(fetch.calls[1].init.keepalive, true);
  assert.deepEqual(ids(fetch.calls[1].events), [a.event_id, b.event_id]);
  await settle();
  assert.deepEqual(clock.pending(), []); // failed, and not retried
  assert.equal(Object.values(storage.records())[0].released, true);
  assert.equal(await queue.flushNow(), 2);
  queue.add(heartbeat());
  queue.retryNow();
  assert.equal(fetch.calls.length, 2);
});

test("a request answered after close() still removes what it delivered", async () => {
  const { queue, fetch, storage } = start();
  const answer = held();
  fetch.respond = () => answer.promise;
  queue.add(heartbeat());
  queue.close();
  answer.release(202);
  await settle();
  assert.equal(queue.size, 0);
  assert.deepEqual(storage.records(), {});
});

test("reclaim() (back from the back/forward cache) takes the record back and sends again", async () => {
  const { queue, fetch, clock, storage } = start();
  fetch.respond = answers(offline(), 202);
  queue.add(heartbeat());
  await settle();
  queue.release();
  assert.equal(Object.values(storage.records())[0].released, true);
  await clock.advance(clock.pending()[0]);
  assert.equal(queue.size, 0);
  fetch.respond = () => offline();
  queue.add(heartbeat());
  queue.release();
  queue.reclaim();
  assert.equal(Object.values(storage.records())[0].released, false);
});
