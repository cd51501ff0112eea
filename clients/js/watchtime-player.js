// watchtime-player: sends heartbeats from an HTMLMediaElement to a watchtime API.
// Plain ES modules with no dependencies and no build step; README.md next to it documents it.
//
//   import { track } from "./watchtime-player.js";
//   const tracker = track(video, { endpoint, key, user, slug });   // later: tracker.stop()
//
// Correctness rests on three things the API's accounting needs: every heartbeat carries the
// player's wall clock (`ts`) and its own `event_id`, given once, so a retry can never count
// twice; one `session` per playback, so two tabs never interleave in one stream; and a send
// queue that survives offline spells, 503s, reloads and crashes (localStorage).
//
// This is the one public entry point. The internals (lib/) touch no browser API of their own:
// this module gives them the browser's, below.

import { eventId, randomId } from "./lib/heartbeat.js";
import { Tracker } from "./lib/tracker.js";

export const VERSION = "0.1.0";

/**
 * Start tracking `media`. Returns a tracker; `tracker.stop()` detaches it.
 * @param {HTMLMediaElement} media
 * @param {object} options see README.md ("Options")
 */
export function track(media, options) {
  return new Tracker(media, options, browser());
}

export default { track, VERSION };

// The browser APIs the internals use, each looked up when called (a page may wrap fetch, the
// timers or Date after it imported this module; importing it touches none of them).
function browser() {
  return {
    fetch: (url, init) => globalThis.fetch(url, init),
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (id) => globalThis.clearTimeout(id),
    random: () => Math.random(),
    randomId: () => randomId(globalThis.crypto),
    eventId: (nowMs) => eventId(globalThis.crypto, nowMs),
    openStorage,
    warn: (...args) => console.warn(...args),
    error: (...args) => console.error(...args),
    document: globalThis.document,
    window: globalThis.window,
  };
}

function openStorage() {
  try {
    return globalThis.localStorage ?? null; // throws where storage is disabled
  } catch {
    return null;
  }
}
