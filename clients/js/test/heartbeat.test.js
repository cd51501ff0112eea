// Heartbeat logic (lib/heartbeat.js): the options' rules, the record, its position and the seek throttle.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MAX_AT,
  SEEK_THROTTLE_MS,
  checkIdentity,
  newHeartbeat,
  positionToAt,
  eventId,
  randomId,
  readOptions,
  seekedWait,
  seekingBeats,
  storedHeartbeat,
  validSession,
} from "../lib/heartbeat.js";
import { heartbeat } from "./fakes.js";

const base = { endpoint: "https://api.example", user: "alice", slug: "heat" };

test("options get their defaults", () => {
  assert.deepEqual(readOptions(base), {
    endpoint: "https://api.example",
    key: undefined,
    user: "alice",
    slug: "heat",
    session: null,
    intervalMs: 10_000,
    maxBackoff: 60,
    storage: true,
    onHeartbeat: undefined,
  });
  const onHeartbeat = () => {};
  const read = readOptions({ ...base, key: "wt_k", session: "s", interval: 1, maxBackoff: 1, storage: false, onHeartbeat });
  assert.equal(read.intervalMs, 1000);
  assert.equal(read.session, "s");
  assert.equal(read.storage, false);
  assert.equal(read.onHeartbeat, onHeartbeat);
});

test("invalid options throw a TypeError naming the option", () => {
  const cases = {
    endpoint: [undefined, "", "ftp://x", "//api.example", 42],
    key: ["", 5, null],
    user: [undefined, "", "a b", "a".repeat(151), "a/b"],
    slug: [undefined, "", "é", "a".repeat(101), "a.b"],
    session: ["x".repeat(65), "tab\there", "\ud800", 7],
    interval: [0, 0.5, 121, NaN, "ten"],
    maxBackoff: [0, 0.5, -1, NaN, "sixty"],
    onHeartbeat: ["f", {}],
  };
  for (const [option, values] of Object.entries(cases)) {
    for (const value of values) {
      assert.throws(() => readOptions({ ...base, [option]: value }), (error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, new RegExp(`\`${option}\``), `${option}=${JSON.stringify(value)}: ${error.message}`);
        return true;
      }, `${option}=${JSON.stringify(value)} accepted`);
    }
  }
  assert.throws(() => readOptions(), TypeError);
});

test("identity and session follow the API's rules", () => {
  checkIdentity("ümit.o'neil".replace("'", ""), "heat_2");
  checkIdentity("a@b+c-d_e.f", "H-1");
  assert.throws(() => checkIdentity("alice", "heat 2"), TypeError);
  assert.ok(validSession(""));
  assert.ok(validSession("🎬".repeat(64))); // 64 code points, 128 UTF-16 units
  assert.ok(!validSession("🎬".repeat(65)));
  assert.ok(!validSession("a\u007fb"));
});

test("a position becomes whole seconds; none before media or past 24 h", () => {
  assert.deepEqual(positionToAt(0), { at: 0 });
  assert.deepEqual(positionToAt(12.97), { at: 12 });
  assert.deepEqual(positionToAt(MAX_AT + 0.5), { at: MAX_AT });
  assert.deepEqual(positionToAt(MAX_AT + 1), { skip: "past-limit" });
  for (const position of [NaN, Infinity, -1, undefined]) assert.deepEqual(positionToAt(position), { skip: "no-position" });
});

test("a heartbeat carries the given clock as RFC 3339 and exactly the API's six fields", () => {
  const beat = newHeartbeat({ eventId: "e", user: "u", slug: "s", at: 3, session: "p", nowMs: Date.UTC(2026, 1, 2, 3, 4, 5, 678) });
  assert.deepEqual(beat, { event_id: "e", user: "u", slug: "s", at: 3, session: "p", ts: "2026-02-02T03:04:05.678Z" });
});

test("a stored heartbeat is read back as the six fields, or not at all", () => {
  const good = heartbeat({ at: 7 });
  assert.deepEqual(storedHeartbeat(good), good);
  assert.deepEqual(storedHeartbeat({ ...good, extra: "x", page: 1 }), good); // the API refuses unknown fields
  assert.deepEqual(storedHeartbeat({ ...good, ts: "2026-01-01T00:00:00+02:00" }).ts, "2026-01-01T00:00:00+02:00");
  const bad = [
    null, 5, "x", [good], {},
    { ...good, event_id: 5 }, { ...good, event_id: "" }, { ...good, event_id: "x".repeat(37) },
    { ...good, user: "a b" }, { ...good, slug: "x".repeat(101) }, { ...good, user: "u".repeat(2_000_000) },
    { ...good, at: -1 }, { ...good, at: 1.5 }, { ...good, at: MAX_AT + 1 }, { ...good, at: "3" },
    { ...good, session: null }, { ...good, session: "x".repeat(65) },
    { ...good, ts: "yesterday" }, { ...good, ts: 1_767_225_600_000 }, { ...good, ts: "2026-01-01T00:00:00" },
  ];
  for (const value of bad) assert.equal(storedHeartbeat(value), null, JSON.stringify(value)?.slice(0, 80));
});

test("a seeking heartbeat only outside a scrub; a seeked one waits for the throttle", () => {
  assert.equal(SEEK_THROTTLE_MS, 1000);
  assert.ok(seekingBeats(5000, -Infinity));
  assert.ok(seekingBeats(5000, 4000));
  assert.ok(!seekingBeats(5000, 4001));
  assert.equal(seekedWait(5000, -Infinity), -Infinity);
  assert.equal(seekedWait(5000, 4000), 0);
  assert.equal(seekedWait(5000, 4700), 700);
});

test("ids are crypto.randomUUID's where there is one, and v4 UUIDs from getRandomValues elsewhere", () => {
  assert.equal(randomId({ randomUUID: () => "the-uuid" }), "the-uuid");
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
  const id = randomId({ getRandomValues: (array) => (array.set(bytes), array) });
  assert.equal(id, "f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff");
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const zero = randomId({ getRandomValues: (array) => array });
  assert.equal(zero, "00000000-0000-4000-8000-000000000000");
});

test("event ids are version 7 UUIDs that carry their millisecond and sort by it", () => {
  const bytes = (fill) => ({ getRandomValues: (array) => (array.fill(fill), array) });
  const id = eventId(bytes(0xff), 0x0123456789ab);
  assert.equal(id, "01234567-89ab-7fff-bfff-ffffffffffff");
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(eventId(bytes(0xff), 1_765_000_000_000) < eventId(bytes(0x00), 1_765_000_000_001));
  assert.equal(eventId(bytes(0x00), 0), "00000000-0000-7000-8000-000000000000");
});
