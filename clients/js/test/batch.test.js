// Batch packing (lib/batch.js): what one request carries.
import assert from "node:assert/strict";
import { test } from "node:test";

import { KEEPALIVE_BUDGET_BYTES, MAX_BATCH, MAX_BODY_BYTES, packBatch, utf8Length } from "../lib/batch.js";
import { heartbeat } from "./fakes.js";

const ids = (events) => events.map((event) => event.event_id);

test("up to 1000 events per array, in queue order", () => {
  const queue = Array.from({ length: 2500 }, (_, at) => heartbeat({ at }));
  const { events, bytes } = packBatch(queue);
  assert.equal(MAX_BATCH, 1000);
  assert.equal(events.length, 1000);
  assert.deepEqual(ids(events), ids(queue.slice(0, 1000)));
  assert.equal(bytes, utf8Length(JSON.stringify(events)));
  assert.ok(bytes < MAX_BODY_BYTES);
});

test("events in flight are skipped, the rest keep their order", () => {
  const queue = Array.from({ length: 6 }, (_, at) => heartbeat({ at }));
  const skip = new Set([queue[0].event_id, queue[2].event_id]);
  assert.deepEqual(ids(packBatch(queue, { skip }).events), ids([queue[1], queue[3], queue[4], queue[5]]));
  assert.deepEqual(packBatch(queue, { skip: new Set(ids(queue)) }), { events: [], bytes: 0 });
  assert.deepEqual(packBatch([]), { events: [], bytes: 0 });
});

test("the byte count is exactly that of the JSON body, multi-byte characters included", () => {
  const queue = [heartbeat({ user: "zoë" }), heartbeat({ user: "渡辺" }), heartbeat({ session: "🎬 night" })];
  const { events, bytes } = packBatch(queue);
  assert.equal(events.length, 3);
  assert.equal(bytes, new TextEncoder().encode(JSON.stringify(events)).length);
  assert.equal(utf8Length("é🎬"), 2 + 4);
});

test("a byte limit takes the events that fit, and stops at the first that does not: no reordering", () => {
  const small = heartbeat();
  const size = utf8Length(JSON.stringify(small));
  const queue = [heartbeat(), heartbeat({ user: "a".repeat(150) }), heartbeat()];
  const first = utf8Length(JSON.stringify(queue[0]));
  // Room for the first and a third one as small, but not for the big second one.
  const { events, bytes } = packBatch(queue, { maxBytes: 2 + first + 1 + size });
  assert.deepEqual(ids(events), [queue[0].event_id]);
  assert.equal(bytes, 2 + first);
  assert.deepEqual(packBatch(queue, { maxBytes: first + 1 }), { events: [], bytes: 0 }); // not even one
});

test("exactly at the byte limit is within it", () => {
  const queue = [heartbeat(), heartbeat()];
  const exact = utf8Length(JSON.stringify(queue));
  assert.equal(packBatch(queue, { maxBytes: exact }).events.length, 2);
  assert.equal(packBatch(queue, { maxBytes: exact - 1 }).events.length, 1);
});

test("the keepalive budget holds about 300 heartbeats: a backlog goes out over several requests", () => {
  assert.equal(KEEPALIVE_BUDGET_BYTES, 60 * 1024); // of the browser's 64 KiB for keepalive bodies in flight
  const queue = Array.from({ length: 1000 }, (_, at) => heartbeat({ at }));
  const { events, bytes } = packBatch(queue, { maxBytes: KEEPALIVE_BUDGET_BYTES });
  assert.ok(events.length > 200 && events.length < 1000, `${events.length}`);
  assert.ok(bytes <= KEEPALIVE_BUDGET_BYTES);
  assert.ok(bytes + utf8Length(JSON.stringify(queue[events.length])) + 1 > KEEPALIVE_BUDGET_BYTES);
});

test("maxEvents bounds an array too", () => {
  const queue = Array.from({ length: 5 }, () => heartbeat());
  assert.deepEqual(ids(packBatch(queue, { maxEvents: 2 }).events), ids(queue.slice(0, 2)));
});
