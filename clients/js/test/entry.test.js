// The public entry point (watchtime-player.js): its exports, the modules it ships, and the
// browser APIs it gives the internals, exercised with Node's own fetch, timers and crypto
// against a local HTTP server.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join, normalize, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import watchtime, * as entry from "../watchtime-player.js";
import { FakeMedia } from "./fakes.js";

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), "..");

test("the exports are VERSION, track and the default object, the version package.json's", () => {
  assert.deepEqual(Object.keys(entry).sort(), ["VERSION", "default", "track"]);
  assert.deepEqual(Object.keys(watchtime).sort(), ["VERSION", "track"]);
  assert.equal(watchtime.track, entry.track);
  const { version } = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8"));
  assert.equal(entry.VERSION, version);
});

test("the entry points and the modules they import, by relative path, are exactly the package's files", () => {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(join(PACKAGE, file), "utf8");
    for (const [, specifier] of source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)";/gms)) {
      assert.match(specifier, /^\.\.?\//, `${file} imports ${specifier}: only relative paths, no dependency`);
      visit(relative(PACKAGE, normalize(join(PACKAGE, dirname(file), specifier))));
    }
  };
  visit("watchtime-player.js");
  visit("watchtime-live-viewers.js");
  const { files } = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8"));
  assert.deepEqual([...seen].sort(), files.filter((file) => file.endsWith(".js")).sort());
});

test("track() sends a playing element's heartbeat with fetch to POST <endpoint>/, and stop() leaves nothing", async (t) => {
  const requests = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      requests.push({ method: request.method, url: request.url, headers: request.headers, events: JSON.parse(body) });
      response.writeHead(202, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const media = new FakeMedia();
  media.currentTime = 12.5;
  media.paused = false;
  const tracker = entry.track(media, {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    key: "wt_key",
    user: "alice",
    slug: "heat",
  });
  assert.equal(tracker.pending, 1);
  assert.equal(await tracker.flush(), 0);
  assert.equal(requests.length, 1);
  const [{ method, url, headers, events }] = requests;
  assert.equal(method, "POST");
  assert.equal(url, "/");
  assert.equal(headers.authorization, "Bearer wt_key");
  assert.equal(events.length, 1);
  assert.equal(events[0].at, 12);
  assert.match(events[0].event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(Math.abs(Date.parse(events[0].ts) - Date.now()) < 5000);
  // A version 7 id carries its heartbeat's millisecond: the one of its `ts`.
  assert.equal(parseInt(events[0].event_id.replace("-", "").slice(0, 12), 16), Date.parse(events[0].ts));
  assert.equal(events[0].session, tracker.session);
  media.paused = true;
  tracker.stop(); // its interval timer is cleared: node exits when the tests are done
  assert.deepEqual(media.listeners, []);
});
