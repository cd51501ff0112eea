// <watchtime-live-viewers>: how many are watching one movie now, for a public page (a premiere's).
// Plain ES module, no dependencies, no build step; README.md next to it documents it.
//
//   <script type="module" src="https://watchtime.example.com/sdk/watchtime-live-viewers.js"></script>
//   <watchtime-live-viewers endpoint="https://watchtime.example.com" movie="42" token="wtl_..."></watchtime-live-viewers>
//
// It reads GET /movies/<movie>/live/?token=<token> (a read-only token for that movie, from
// `watchtime livetoken`: never an API key, which a public page would give away) every 10 s, and
// backs off on errors. Its text is what a screen reader announces politely (role="status").
// The pure parts (URL, texts, delays, the poller with injected fetch and timers) are exported for
// the unit tests; importing the module without a DOM defines nothing. It imports nothing but the
// SDK's own Retry-After reader, from next to it.

import { parseRetryAfter } from "./lib/retry.js";

export const VERSION = "0.1.0";
export const TAG = "watchtime-live-viewers";
export const POLL_SECONDS = 10;
export const MAX_BACKOFF_SECONDS = 300;

/** The live count's URL of `movie` on `endpoint`, with the token. */
export function liveUrl(endpoint, movie, token) {
  const base = String(endpoint).replace(/\/+$/, "");
  return `${base}/movies/${encodeURIComponent(String(movie))}/live/?token=${encodeURIComponent(String(token))}`;
}

/** The element's text for a count. */
export function viewersText(viewers) {
  return `${viewers} watching now`;
}

/** The element's text when the count cannot be read: says why where the page's owner can fix it. */
export function errorText(status) {
  if (status === 401) return "Live count unavailable: the token is invalid or expired.";
  if (status === 403) return "Live count unavailable: the token is for another movie.";
  if (status === 404) return "Live count unavailable: no such movie.";
  return "Live count unavailable.";
}

/**
 * Seconds until the next read: POLL_SECONDS after a success; after `failures` consecutive
 * failures POLL_SECONDS * 2^failures (at most MAX_BACKOFF_SECONDS), jittered down to half by
 * `random` (in [0, 1): pages that failed together do not come back together) but never under
 * POLL_SECONDS, and never sooner than the server's Retry-After (seconds, or null).
 */
export function nextPollSeconds({ failures, random, retryAfter = null }) {
  if (failures === 0) return POLL_SECONDS;
  const backoff = Math.min(MAX_BACKOFF_SECONDS, POLL_SECONDS * 2 ** failures);
  return Math.max(POLL_SECONDS, backoff * (0.5 + random / 2), retryAfter ?? 0);
}

/**
 * Reads the count now and then again after each answer, until stop(). `onState` gets
 * {state: "ok", viewers} or {state: "error", status} (status 0: no answer). `env` holds the
 * browser's fetch, setTimeout, clearTimeout, now and random (the tests give fakes).
 */
export class LivePoller {
  constructor({ url, onState, env }) {
    this.url = url;
    this.onState = onState;
    this.env = env;
    this.failures = 0;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.poll();
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) this.env.clearTimeout(this.timer);
    this.timer = null;
  }

  async poll() {
    this.timer = null;
    let retryAfter = null;
    try {
      const response = await this.env.fetch(this.url, { credentials: "omit", cache: "no-store" });
      if (this.stopped) return;
      if (response.ok) {
        const body = await response.json();
        if (this.stopped) return;
        this.failures = 0;
        this.onState({ state: "ok", viewers: body.viewers });
      } else {
        this.failures += 1;
        retryAfter = parseRetryAfter(response.headers.get("Retry-After"), this.env.now());
        this.onState({ state: "error", status: response.status });
      }
    } catch {
      if (this.stopped) return;
      this.failures += 1;
      this.onState({ state: "error", status: 0 });
    }
    const seconds = nextPollSeconds({ failures: this.failures, random: this.env.random(), retryAfter });
    this.timer = this.env.setTimeout(() => this.poll(), Math.ceil(seconds * 1000));
  }
}

function browser() {
  return {
    fetch: (url, init) => globalThis.fetch(url, init),
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (id) => globalThis.clearTimeout(id),
    now: () => Date.now(),
    random: () => Math.random(),
  };
}

/** Define the element (once) in `registry`; the module does it itself where there is a DOM. */
export function defineLiveViewers(registry = globalThis.customElements) {
  if (!registry || registry.get(TAG)) return;

  class WatchtimeLiveViewers extends globalThis.HTMLElement {
    static observedAttributes = ["endpoint", "movie", "token"];

    constructor() {
      super();
      this.poller = null;
      this.viewers = null; // the last count read, for scripts
    }

    connectedCallback() {
      if (!this.hasAttribute("role")) this.setAttribute("role", "status");
      if (!this.hasAttribute("aria-live")) this.setAttribute("aria-live", "polite");
      this.restart();
    }

    disconnectedCallback() {
      this.poller?.stop();
      this.poller = null;
    }

    attributeChangedCallback() {
      if (this.isConnected) this.restart();
    }

    restart() {
      this.poller?.stop();
      const [endpoint, movie, token] = ["endpoint", "movie", "token"].map((name) => this.getAttribute(name));
      if (!endpoint || !movie || !token) {
        this.show("error", "Live count unavailable: set endpoint, movie and token.");
        return;
      }
      this.show("loading", "Loading live viewers…");
      this.poller = new LivePoller({ url: liveUrl(endpoint, movie, token), env: browser(), onState: (s) => this.update(s) });
      this.poller.start();
    }

    update(state) {
      if (state.state === "ok") {
        this.viewers = state.viewers;
        this.show("ok", viewersText(state.viewers));
      } else {
        this.show("error", errorText(state.status));
      }
    }

    show(state, text) {
      this.dataset.state = state;
      this.textContent = text;
    }
  }

  registry.define(TAG, WatchtimeLiveViewers);
}

defineLiveViewers();
