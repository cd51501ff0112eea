// Fakes of the browser APIs the SDK's internals are given (fetch, the clock, the timers,
// localStorage, a media element and its page), for `node --test`. Only browser APIs are faked:
// the SDK's own modules run as they are.

/** The clock and the timers: time moves only when a test advances it. */
export class FakeClock {
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.start = start;
    this.time = start;
    this.timers = new Map(); // id -> {at, callback, ms}
    this.nextId = 1;
    this.now = () => this.time;
    this.monotonic = () => this.time - this.start;
    this.setTimeout = (callback, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.time + Math.max(0, ms), callback, ms });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** The delays (ms) of the timers pending now, soonest first. */
  pending() {
    return [...this.timers.values()].sort((a, b) => a.at - b.at).map((timer) => timer.ms);
  }

  /** Moves time by `ms`, running each timer due on the way (at its time) and what it started. */
  async advance(ms) {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, timer] = due;
      this.timers.delete(id);
      this.time = Math.max(this.time, timer.at);
      timer.callback();
      await settle();
    }
    this.time = end;
    await settle();
  }
}

/** Lets every promise callback that can run, run (fetch answers, the queue's continuations). */
export async function settle() {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * localStorage: `quota` (bytes of keys and values, UTF-16 as browsers count) makes setItem throw
 * the QuotaExceededError browsers throw; `broken` makes every access throw (storage disabled).
 */
export class FakeStorage {
  constructor({ quota = Infinity, entries = {} } = {}) {
    this.map = new Map(Object.entries(entries));
    this.quota = quota;
    this.broken = false;
    this.writes = 0;
  }

  get length() {
    this.check();
    return this.map.size;
  }

  key(index) {
    this.check();
    return [...this.map.keys()][index] ?? null;
  }

  getItem(name) {
    this.check();
    return this.map.has(name) ? this.map.get(name) : null;
  }

  setItem(name, value) {
    this.check();
    const size = [...this.map].reduce((sum, [k, v]) => sum + (k === name ? 0 : k.length + v.length), 0);
    if (size + name.length + String(value).length > this.quota) {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    }
    this.writes += 1;
    this.map.set(name, String(value));
  }

  removeItem(name) {
    this.check();
    this.map.delete(name);
  }

  check() {
    if (this.broken) throw new DOMException("The operation is insecure.", "SecurityError");
  }

  /** The stored records of SendQueues, parsed, by key. */
  records() {
    return Object.fromEntries([...this.map].filter(([k]) => k.startsWith("watchtime:")).map(([k, v]) => [k, JSON.parse(v)]));
  }
}

/**
 * fetch: each call is recorded (`calls`: url, init, events = the parsed body) and answered by
 * `respond(call)`: a Response, a status number, an Error (a failed fetch: rejected), or a
 * promise of one of those (a test may hold it to keep the request in flight).
 */
export function fakeFetch(respond = () => 202) {
  const calls = [];
  const fetch = async (url, init) => {
    const call = { url, init, events: JSON.parse(init.body) };
    calls.push(call);
    const answer = await fetch.respond(call);
    if (answer instanceof Error) throw answer;
    if (typeof answer === "number") return new Response(answer === 202 ? "{}" : null, { status: answer });
    return answer;
  };
  fetch.respond = respond;
  fetch.calls = calls;
  return fetch;
}

/** An answer that waits for `release()`: keeps a request in flight. */
export function held() {
  let release;
  const promise = new Promise((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

/** The API's error answer. */
export function apiError(status, code, details = {}, headers = {}) {
  return new Response(JSON.stringify({ error: { code, message: `${code}!`, details } }), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

let counter = 0;
/** A distinct, deterministic UUID. */
export function uuid() {
  counter += 1;
  return `00000000-0000-4000-8000-${counter.toString(16).padStart(12, "0")}`;
}

/** A heartbeat as the tracker makes them. */
export function heartbeat(fields = {}) {
  return { event_id: uuid(), user: "alice", slug: "heat", at: 0, session: "s1", ts: "2026-01-01T00:00:00.000Z", ...fields };
}

/** An EventTarget that knows which listeners it holds. */
export class Target extends EventTarget {
  constructor() {
    super();
    this.listeners = [];
  }

  addEventListener(type, listener, options) {
    this.listeners.push([type, listener]);
    super.addEventListener(type, listener, options);
  }

  removeEventListener(type, listener, options) {
    const index = this.listeners.findIndex(([t, l]) => t === type && l === listener);
    if (index >= 0) this.listeners.splice(index, 1);
    super.removeEventListener(type, listener, options);
  }

  fire(type, fields = {}) {
    this.dispatchEvent(Object.assign(new Event(type), fields));
  }
}

/** A media element with its document and window, played by the test (`play()`, `to()`, ...). */
export class FakeMedia extends Target {
  constructor() {
    super();
    this.currentTime = 0;
    this.paused = true;
    this.ended = false;
    this.seeking = false;
    this.window = new Target();
    this.ownerDocument = new Target();
    this.ownerDocument.defaultView = this.window;
    this.ownerDocument.visibilityState = "visible";
  }

  play() {
    this.paused = false;
    this.ended = false;
    this.fire("play");
  }

  pause() {
    this.paused = true;
    this.fire("pause");
  }

  /** Playback moved on to `position` (a timeupdate). */
  to(position) {
    this.currentTime = position;
    this.fire("timeupdate");
  }

  seekStart(position) {
    this.seeking = true;
    this.currentTime = position;
    this.fire("seeking");
  }

  seekEnd() {
    this.seeking = false;
    this.fire("seeked");
  }

  end() {
    this.paused = true;
    this.ended = true;
    this.fire("ended");
  }
}

/** Everything SendQueue takes, faked; `overrides` replace any of it. */
export function queueEnv(overrides = {}) {
  const clock = overrides.clock ?? new FakeClock();
  const warnings = [];
  const env = {
    endpoint: "https://api.example/",
    key: "wt_key",
    maxBackoff: 60,
    fetch: fakeFetch(),
    now: clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    storage: new FakeStorage(),
    random: () => 0.5,
    randomId: uuid,
    warn: (...args) => warnings.push(args.map(show).join(" ")),
    ...overrides,
  };
  return { env, clock, warnings };
}

function show(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error || value instanceof DOMException) return `${value.name}: ${value.message}`;
  return JSON.stringify(value);
}
