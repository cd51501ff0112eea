// Type declarations for watchtime-player.js (see README.md).

/** One heartbeat, as sent to the API (`POST /`, arrays of up to 1000). */
export interface Heartbeat {
  /** A UUID given once: a retry sends the same one, so the API counts the heartbeat once. */
  event_id: string;
  user: string;
  slug: string;
  /** Whole seconds into the media: floor(currentTime). */
  at: number;
  /** One id per playback (a new one after `ended` or a source change). */
  session: string;
  /** The player's wall clock, RFC 3339 (`new Date().toISOString()`). */
  ts: string;
}

export interface TrackOptions {
  /** The API's base URL, e.g. "https://watchtime.example.com". */
  endpoint: string;
  /** An API key with the `ingest` scope only (it is visible to anyone who opens the page). */
  key?: string;
  /** 1-150 letters, digits or @.+-_ */
  user: string;
  /** The film's slug: 1-100 letters, digits, '-' or '_'. */
  slug: string;
  /** The first playback's session id (at most 64 printable characters); generated when omitted. */
  session?: string;
  /** Seconds between heartbeats while playing, 1-120. Default 10. */
  interval?: number;
  /** Cap of the retry backoff, in seconds (a server's Retry-After may ask for longer). Default 60. */
  maxBackoff?: number;
  /** Keep unsent heartbeats in localStorage, so a reload or a crash does not lose them. Default true. */
  storage?: boolean;
  /** Called with a copy of each heartbeat as it is queued. */
  onHeartbeat?: (heartbeat: Heartbeat) => void;
}

export interface Tracker {
  /** The current playback's session id; null before its first heartbeat. */
  readonly session: string | null;
  /** Heartbeats not yet accepted by the API. */
  readonly pending: number;
  /** Send what is queued now; resolves to the number still queued (0 when all were accepted). */
  flush(): Promise<number>;
  /** Another user or film (call before loading the new source): ends the playback in progress. */
  update(change: { user?: string; slug?: string }): void;
  /** A last heartbeat if playing and a last send, then every listener and timer is removed. */
  stop(): void;
}

export declare const VERSION: string;

/** Start tracking a media element; throws TypeError on invalid options. */
export declare function track(media: HTMLMediaElement, options: TrackOptions): Tracker;

declare const watchtime: { track: typeof track; VERSION: string };
export default watchtime;
