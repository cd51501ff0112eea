// Compiled (not run) by `npm run check`: the declarations describe the module's real use.
import watchtime, { track, VERSION, type Heartbeat, type Tracker } from "./watchtime-player.js";

const video = document.createElement("video");
const seen: Heartbeat[] = [];
const tracker: Tracker = track(video, {
  endpoint: "https://watchtime.example.com",
  key: "wt_abcd_0123456789abcdef",
  user: "alice",
  slug: "heat",
  interval: 10,
  onHeartbeat: (heartbeat) => seen.push(heartbeat),
});
const again: Tracker = watchtime.track(video, { endpoint: "http://127.0.0.1:8000", user: "bob", slug: "ran" });
const version: string = VERSION;
tracker.update({ slug: "ran" });
tracker.flush().then((left: number) => left === 0);
const session: string | null = tracker.session;
tracker.stop();
again.stop();

// @ts-expect-error: user and slug are required
track(video, { endpoint: "https://watchtime.example.com" });
// @ts-expect-error: a media element, not any element
track(document.createElement("div"), { endpoint: "x", user: "u", slug: "s" });
// @ts-expect-error: pending is read-only
tracker.pending = 0;

export { seen, version, session };
