// The stored record (lib/storage.js): its format, which records may be adopted, what is restored.
import assert from "node:assert/strict";
import { test } from "node:test";

import { STORAGE_PREFIX, decodeRecord, encodeRecord, isOrphan, restoreEvents } from "../lib/storage.js";
import { heartbeat } from "./fakes.js";

test("a record reads back as written", () => {
  const events = [heartbeat(), heartbeat()];
  const text = encodeRecord({ endpoint: "https://api.example/", touched: 1234, released: false, events });
  assert.deepEqual(JSON.parse(text), { v: 1, endpoint: "https://api.example/", touched: 1234, released: false, events });
  assert.deepEqual(decodeRecord(text), { endpoint: "https://api.example/", touched: 1234, released: false, events });
  assert.equal(STORAGE_PREFIX, "watchtime:v1:queue:");
});

test("what cannot be a record is null (the reader removes it)", () => {
  for (const text of [null, "", "{", "null", "5", '"x"', "[]", "{}", '{"v":2,"endpoint":"e"}', '{"v":1}', '{"v":1,"endpoint":5}']) {
    assert.equal(decodeRecord(text), null, String(text));
  }
});

test("a record with unreadable parts keeps what it can: no events, an unknown age, not released", () => {
  assert.deepEqual(decodeRecord('{"v":1,"endpoint":"e","touched":"yesterday","released":"yes","events":{"0":1}}'), {
    endpoint: "e",
    touched: NaN,
    released: false,
    events: [],
  });
});

test("a record is adopted once released, or once not written for orphanAfter", () => {
  const now = 1_000_000;
  const record = (fields) => ({ endpoint: "e", touched: now, released: false, events: [], ...fields });
  assert.ok(!isOrphan(record(), now, 300_000)); // a live tab's
  assert.ok(!isOrphan(record({ touched: now - 300_000 }), now, 300_000));
  assert.ok(isOrphan(record({ touched: now - 300_001 }), now, 300_000)); // its page crashed
  assert.ok(isOrphan(record({ released: true }), now, 300_000)); // pagehide or stop()
  assert.ok(isOrphan(record({ touched: NaN }), now, 300_000));
  assert.ok(isOrphan(record({ touched: now + 600_000 }), now, 300_000)); // written by a clock 10 min ahead
  assert.ok(!isOrphan(record({ touched: now + 60_000 }), now, 300_000));
});

test("restoring keeps stored order, skips what is known or repeated, counts what is not a heartbeat", () => {
  const [a, b, c] = [heartbeat(), heartbeat(), heartbeat()];
  const stored = [a, "junk", b, { ...b }, null, { event_id: "x" }, c];
  const { events, invalid } = restoreEvents(stored, new Set([c.event_id]));
  assert.deepEqual(events, [a, b]);
  assert.equal(invalid, 3);
});
