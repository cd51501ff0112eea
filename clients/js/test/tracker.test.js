// The tracker (lib/tracker.js): a media element's and its page's events become heartbeats. The
// element, its document and window are EventTargets; the clock, timers, fetch and storage fakes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Tracker } from "../lib/tracker.js";
import { FakeClock, FakeMedia, FakeStorage, fakeFetch, settle } from "./fakes.js";

const OPTIONS = { endpoint: "https://api.example", key: "wt_key", user: "alice", slug: "heat" };

function attach(options = {}, { media = new FakeMedia(), respond } = {}) {
  const clock = new FakeClock();
  const fetch = fakeFetch(respond);
  const storage = new FakeStorage();
  const beats = [];
  const warnings = [];
  const errors = [];
  let ids = 0;
  let opened = 0;
  const env = {
    fetch,
    now: clock.now,
    monotonic: clock.monotonic,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: () => 0.5,
    randomId: () => `id-${++ids}`,
    eventId: (nowMs) => `event-${nowMs}-${++ids}`,
    openStorage: () => {
      opened += 1;
      return storage;
    },
    warn: (...args) => warnings.push(args),
    error: (...args) => errors.push(args),
  };
  const tracker = new Tracker(media, { onHeartbeat: (beat) => beats.push(beat), ...OPTIONS, ...options }, env);
  return { tracker, media, clock, fetch, storage, beats, warnings, errors, opened: () => opened };
}

const ats = (beats) => beats.map((beat) => beat.at);
const offline = () => new TypeError("Failed to fetch");

test("play: a heartbeat at the whole second, in a session of its own; then one per interval while playing", async () => {
  const { tracker, media, clock, beats, fetch } = attach({ interval: 10 });
  assert.equal(tracker.session, null);
  media.currentTime = 3.7;
  media.play();
  assert.equal(beats.length, 1);
  const [first] = beats;
  assert.deepEqual(Object.keys(first).sort(), ["at", "event_id", "session", "slug", "ts", "user"]);
  assert.equal(first.at, 3);
  assert.equal(first.ts, new Date(clock.now()).toISOString());
  assert.equal(first.user, "alice");
  assert.equal(tracker.session, first.session);
  assert.deepEqual(clock.pending(), [10_000]);
  media.to(13.9);
  await clock.advance(10_000);
  media.to(23.1);
  await clock.advance(10_000);
  assert.deepEqual(ats(beats), [3, 13, 23]);
  assert.equal(new Set(beats.map((b) => b.session)).size, 1);
  assert.equal(new Set(beats.map((b) => b.event_id)).size, 3);
  media.pause();
  assert.deepEqual(ats(beats), [3, 13, 23, 23]);
  assert.deepEqual(clock.pending(), []); // no tick while paused
  assert.deepEqual(fetch.calls.flatMap((call) => call.events), beats);
});

test("the next tick is one interval after the latest heartbeat of any kind", async () => {
  const { media, clock, beats } = attach({ interval: 10 });
  media.play();
  await clock.advance(4000);
  media.to(4);
  media.fire("ratechange");
  assert.deepEqual(ats(beats), [0, 4]);
  assert.deepEqual(clock.pending(), [10_000]);
  media.paused = true;
  media.fire("ratechange"); // not playing: no heartbeat
  assert.equal(beats.length, 2);
});

test("a seek: a heartbeat at the position played last, then one at the target", () => {
  const { media, beats } = attach();
  media.play();
  media.to(10);
  media.seekStart(210);
  media.seekEnd();
  assert.deepEqual(ats(beats), [0, 10, 210]);
});

test("a scrub gets one trailing pair a second: the latest position again, then the target", async () => {
  const { media, clock, beats } = attach();
  media.play();
  media.to(5);
  media.pause();
  for (const target of [20, 40, 60, 80]) {
    media.seekStart(target);
    media.seekEnd();
    await clock.advance(100);
  }
  assert.deepEqual(ats(beats), [0, 5, 5, 20]);
  await clock.advance(1000);
  assert.deepEqual(ats(beats), [0, 5, 5, 20, 20, 80]);
  media.play();
  assert.deepEqual(ats(beats), [0, 5, 5, 20, 20, 80, 80]);
});

test("a seek before the first heartbeat sends none; play then starts at the target", () => {
  const { media, beats } = attach();
  media.seekStart(30);
  media.seekEnd();
  assert.equal(beats.length, 0);
  media.play();
  assert.deepEqual(ats(beats), [30]);
});

test("ended: the playback's last heartbeat; the next play is a new session", () => {
  const { tracker, media, clock, beats } = attach({ session: "given" });
  media.play();
  media.to(300);
  media.end();
  assert.equal(tracker.session, null);
  assert.deepEqual(clock.pending(), []);
  media.currentTime = 0;
  media.play();
  assert.deepEqual(ats(beats), [0, 300, 0]);
  assert.deepEqual(beats.map((b) => b.session), ["given", "given", tracker.session]);
  assert.notEqual(tracker.session, "given");
});

test("a new source (emptied) ends the playback at the position played last", () => {
  const { tracker, media, beats } = attach();
  media.fire("emptied"); // nothing played yet: nothing
  media.play();
  media.to(7.5);
  media.currentTime = 0;
  media.fire("emptied");
  assert.deepEqual(ats(beats), [0, 7]);
  assert.equal(tracker.session, null);
});

test("update(): the playback in progress ends, the new one starts at once while playing", () => {
  const { tracker, media, beats } = attach();
  media.play();
  media.to(5);
  tracker.update({ slug: "heat" }); // unchanged: nothing
  assert.equal(beats.length, 1);
  tracker.update({ slug: "ran" });
  assert.deepEqual(beats.map((b) => [b.at, b.slug]), [[0, "heat"], [5, "heat"], [5, "ran"]]);
  assert.notEqual(beats[2].session, beats[1].session);
  assert.throws(() => tracker.update({ user: "not valid" }), TypeError);
});

test("stop(): a last heartbeat if playing, a last send, then no listener and no timer is left", async () => {
  const { tracker, media, clock, beats, fetch } = attach({}, { respond: () => offline() });
  media.play();
  media.to(5);
  media.pause();
  media.seekStart(50);
  media.seekEnd();
  media.seekStart(60);
  media.seekEnd(); // a trailing scrub heartbeat pending
  media.play();
  await settle(); // the send failed: a retry pending too
  assert.ok(clock.pending().length >= 2);
  const before = beats.length;
  tracker.stop();
  assert.equal(beats.length, before + 1);
  assert.deepEqual(clock.pending(), []);
  assert.deepEqual(media.listeners, []);
  assert.deepEqual(media.ownerDocument.listeners, []);
  assert.deepEqual(media.window.listeners, []);
  assert.equal(fetch.calls.at(-1).init.keepalive, true);
  media.pause();
  media.play();
  tracker.stop();
  assert.equal(beats.length, before + 1);
  await settle();
  assert.deepEqual(clock.pending(), []);
  assert.equal(await tracker.flush(), tracker.pending);
});

test("the page hidden or left: a heartbeat while playing, then a keepalive send; pagehide releases the queue", async () => {
  const { media, beats, fetch, storage } = attach({}, { respond: () => offline() });
  media.play();
  await settle();
  media.to(4);
  media.ownerDocument.visibilityState = "hidden";
  media.ownerDocument.fire("visibilitychange");
  assert.deepEqual(ats(beats), [0, 4]);
  assert.equal(fetch.calls.length, 2);
  assert.equal(fetch.calls[1].init.keepalive, true);
  await settle();
  media.to(6);
  media.window.fire("pagehide", { persisted: true });
  assert.deepEqual(ats(beats), [0, 4, 6]);
  assert.equal(fetch.calls.length, 3);
  const record = () => Object.values(storage.records())[0];
  assert.equal(record().released, true);
  assert.equal(record().events.length, 3);
  await settle();
  media.window.fire("pageshow", { persisted: false }); // a new page load would be a new tracker
  assert.equal(record().released, true);
  media.window.fire("pageshow", { persisted: true }); // back from the back/forward cache
  assert.equal(record().released, false);
});

test("back online: the backoff is cut short", async () => {
  const { media, fetch } = attach({}, { respond: () => offline() });
  media.play();
  await settle();
  assert.equal(fetch.calls.length, 1);
  media.window.fire("online");
  assert.equal(fetch.calls.length, 2);
});

test("no position (no media yet, a live stream) sends nothing; past 24 h neither, with one warning", () => {
  const { media, beats, warnings } = attach();
  media.currentTime = NaN;
  media.play();
  media.currentTime = Infinity;
  media.pause();
  assert.equal(beats.length, 0);
  assert.equal(warnings.length, 0);
  media.currentTime = 90_000;
  media.play();
  media.pause();
  assert.equal(beats.length, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0][0], /positions past 86400 s cannot be sent/);
});

test("onHeartbeat gets a copy; one that throws is reported and the heartbeat still goes", async () => {
  const seen = [];
  const { tracker, media, errors, fetch } = attach({
    onHeartbeat: (beat) => {
      seen.push(beat);
      beat.at = 999;
      throw new Error("page bug");
    },
  });
  media.play();
  assert.equal(errors.length, 1);
  assert.equal(errors[0][0], "watchtime: onHeartbeat threw");
  assert.equal(fetch.calls[0].events[0].at, 0);
  await settle();
  assert.equal(tracker.pending, 0);
  assert.equal(seen.length, 1);
});

test("a media element already playing gets its first heartbeat at once", () => {
  const media = new FakeMedia();
  media.paused = false;
  media.currentTime = 42;
  const { beats } = attach({}, { media });
  assert.deepEqual(ats(beats), [42]);
});

test("storage: false never opens localStorage", async () => {
  const kept = attach();
  assert.equal(kept.opened(), 1);
  const { media, opened, storage } = attach({ storage: false }, { respond: () => offline() });
  media.play();
  await settle();
  assert.equal(opened(), 0);
  assert.equal(storage.writes, 0);
});

test("the first argument must be a media element; bad options throw before anything is attached", () => {
  for (const media of [null, {}, { addEventListener() {} }, "video"]) {
    assert.throws(() => attach({}, { media }), /the first argument must be an HTMLMediaElement/);
  }
  const media = new FakeMedia();
  assert.throws(() => attach({ interval: 0 }, { media }), /`interval`/);
  assert.deepEqual(media.listeners, []);
});
