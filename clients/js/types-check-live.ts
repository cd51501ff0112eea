// Compiled (not run) by `npm run check`: the live counter's declarations describe its real use.
import { LivePoller, type LiveState, VERSION, liveUrl, nextPollSeconds } from "./watchtime-live-viewers.js";

const counter = document.createElement("watchtime-live-viewers");
counter.setAttribute("movie", "42");
const shown: number | null = counter.viewers;
const url: string = liveUrl("https://watchtime.example.com", 42, "wtl_42_1_x");
const seconds: number = nextPollSeconds({ failures: 2, random: Math.random(), retryAfter: null });
const states: LiveState[] = [];
const poller = new LivePoller({
  url,
  onState: (state) => states.push(state),
  env: { fetch: (u, init) => fetch(u, init), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (id) => clearTimeout(id as number),
         now: () => Date.now(), random: Math.random },
});
poller.start();
poller.stop();

// @ts-expect-error: viewers is read-only
counter.viewers = 3;

export { shown, seconds, VERSION };
