// The browser suite's side of a player page, loaded before the SDK: it records what the SDK adds
// and removes (listeners, timers), what it sends and what the API answers, and runs a
// scenario's steps. Records live in sessionStorage, so they survive a reload of the page.
"use strict";
(() => {
  const RealDate = Date; // the harness's own records use the real clock
  const store = {
    list(name) {
      return JSON.parse(sessionStorage.getItem(`harness:${name}`) || "[]");
    },
    push(name, item) {
      const list = store.list(name);
      list.push(item);
      sessionStorage.setItem(`harness:${name}`, JSON.stringify(list));
      status();
      return list.length - 1;
    },
    update(name, index, fields) {
      const list = store.list(name);
      Object.assign(list[index], fields);
      sessionStorage.setItem(`harness:${name}`, JSON.stringify(list));
      status();
    },
  };
  // A status line, so that each screenshot shows what the SDK has done so far.
  const status = () => {
    const line = document.getElementById("status");
    if (!line) return;
    const requests = store.list("requests");
    const last = requests[requests.length - 1];
    line.textContent = `heartbeats ${store.list("beats").length} · requests ${requests.length} · last answer ` +
      `${last ? (last.status ?? "pending") : "-"} · queued ${window.tracker ? window.tracker.pending : "-"}`;
  };
  // The SDK's modules are the scripts under the API's /sdk/ (watchtime-player.js and lib/*.js).
  const calledBySdk = () => /\/sdk\/\S*\.js/.test(new Error().stack || "");

  // Listeners and timers the SDK holds right now.
  const sdkListeners = [];
  const sdkTimers = new Map(); // id -> kind
  const describe = (target) => (target === window ? "window" : target === document ? "document" : target.tagName || String(target));
  const { addEventListener, removeEventListener } = EventTarget.prototype;
  const capture = (options) => (typeof options === "boolean" ? options : Boolean(options && options.capture));
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (calledBySdk()) sdkListeners.push({ target: this, type, listener, capture: capture(options) });
    return addEventListener.call(this, type, listener, options);
  };
  EventTarget.prototype.removeEventListener = function (type, listener, options) {
    const index = sdkListeners.findIndex(
      (l) => l.target === this && l.type === type && l.listener === listener && l.capture === capture(options),
    );
    if (index >= 0) sdkListeners.splice(index, 1);
    return removeEventListener.call(this, type, listener, options);
  };
  const { setTimeout, clearTimeout, setInterval, clearInterval } = window;
  window.setTimeout = (callback, delay, ...args) => {
    if (!calledBySdk()) return setTimeout(callback, delay, ...args);
    const id = setTimeout((...a) => {
      sdkTimers.delete(id);
      callback(...a);
    }, delay, ...args);
    sdkTimers.set(id, "timeout");
    return id;
  };
  window.setInterval = (callback, delay, ...args) => {
    const id = setInterval(callback, delay, ...args);
    if (calledBySdk()) sdkTimers.set(id, "interval");
    return id;
  };
  window.clearTimeout = (id) => {
    sdkTimers.delete(id);
    return clearTimeout(id);
  };
  window.clearInterval = (id) => {
    sdkTimers.delete(id);
    return clearInterval(id);
  };

  // Every request to the API's ingest URL and its answer.
  const fetch = window.fetch;
  window.fetch = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    if (!(init.method === "POST" && url === window.harnessConfig.ingestUrl)) return fetch(input, init);
    const ids = JSON.parse(init.body).map((event) => event.event_id);
    const index = store.push("requests", {
      started: RealDate.now(),
      ids,
      keepalive: Boolean(init.keepalive),
      authorization: Boolean(init.headers && init.headers.Authorization),
      credentials: init.credentials || null,
    });
    try {
      const response = await fetch(input, init);
      const body = await response.clone().text();
      store.update("requests", index, {
        answered: RealDate.now(),
        status: response.status,
        retryAfter: response.headers.get("Retry-After"),
        body,
      });
      return response;
    } catch (error) {
      store.update("requests", index, { answered: RealDate.now(), status: 0, error: String(error) });
      throw error;
    }
  };
  const warn = console.warn;
  console.warn = (...args) => {
    store.push("warnings", args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    return warn.apply(console, args);
  };

  const video = () => document.getElementById("player");
  const untilPosition = (position) =>
    new Promise((resolve) => {
      if (video().currentTime >= position) return resolve();
      const check = () => {
        if (video().currentTime < position) return;
        video().removeEventListener("timeupdate", check);
        resolve(); // resumes in this task: a following step acts on the very position the SDK just saw
      };
      video().addEventListener("timeupdate", check);
    });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // The page's clock, shifted by `offset` ms (a player whose wall clock is wrong).
  let clockOffset = 0;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + clockOffset);
      else super(...args);
    }

    static now() {
      return RealDate.now() + clockOffset;
    }
  }

  const steps = {
    play: () => video().play(),
    pause: () => video().pause(),
    until: untilPosition,
    ended: () => new Promise((resolve) => video().addEventListener("ended", resolve, { once: true })),
    seek: (position) => {
      video().currentTime = position;
    },
    rate: (rate) => {
      video().playbackRate = rate;
    },
    sleep,
    clock(offset) {
      clockOffset = offset;
      window.Date = offset === 0 ? RealDate : ShiftedDate;
    },
    async drain(timeoutMs) {
      const deadline = RealDate.now() + timeoutMs;
      while (window.tracker.pending > 0 && RealDate.now() < deadline) await sleep(200);
      return window.tracker.pending;
    },
    stop: () => window.tracker.stop(),
  };

  window.harness = {
    // Loads the clip (as a blob: playback needs no network afterwards) and attaches the SDK.
    async start(trackOptions) {
      const sdk = await window.sdkLoaded;
      const clip = await (await fetch("clip.webm")).blob();
      video().src = URL.createObjectURL(clip);
      await new Promise((resolve) => video().addEventListener("loadedmetadata", resolve, { once: true }));
      window.tracker = sdk.track(video(), {
        ...trackOptions,
        // page: which page load made it; realTs: the real clock (the page's may be shifted)
        onHeartbeat: (event) =>
          store.push("beats", { ...event, page: performance.timeOrigin, realTs: new RealDate().toISOString() }),
      });
      return { exports: Object.keys(sdk).sort(), version: sdk.VERSION };
    },
    async run(list) {
      const log = [];
      for (const [name, ...args] of list) {
        const value = await steps[name](...args);
        log.push({ step: [name, ...args], wall: RealDate.now(), position: video().currentTime, value: value ?? null });
      }
      return log;
    },
    leaks() {
      return {
        listeners: sdkListeners.map((l) => `${describe(l.target)}:${l.type}`),
        timers: [...sdkTimers.values()],
      };
    },
    records() {
      return { beats: store.list("beats"), requests: store.list("requests"), warnings: store.list("warnings") };
    },
    queued() {
      // What the SDK keeps in localStorage right now.
      const events = [];
      for (let i = 0; i < localStorage.length; i += 1) {
        const key = localStorage.key(i);
        if (key.startsWith("watchtime:")) events.push(...JSON.parse(localStorage.getItem(key)).events);
      }
      return events.map((event) => event.event_id);
    },
  };
})();
