// Declarations of watchtime-live-viewers.js (the <watchtime-live-viewers> element and its pure parts).

export declare const VERSION: string;
export declare const TAG: "watchtime-live-viewers";
/** Seconds between reads while they succeed. */
export declare const POLL_SECONDS: number;
/** The longest wait after failures, in seconds. */
export declare const MAX_BACKOFF_SECONDS: number;

/** GET /movies/<movie>/live/?token=<token> on `endpoint`. */
export declare function liveUrl(endpoint: string, movie: string | number, token: string): string;
export declare function viewersText(viewers: number): string;
/** The text shown when a read failed with `status` (0: no answer). */
export declare function errorText(status: number): string;
export declare function nextPollSeconds(options: { failures: number; random: number; retryAfter?: number | null }): number;

export type LiveState = { state: "ok"; viewers: number } | { state: "error"; status: number };

export interface LivePollerEnv {
  fetch(url: string, init: RequestInit): Promise<Response>;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  now(): number;
  random(): number;
}

export declare class LivePoller {
  constructor(options: { url: string; onState: (state: LiveState) => void; env: LivePollerEnv });
  start(): void;
  stop(): void;
}

/** Define <watchtime-live-viewers> in `registry` (the module does it itself where there is a DOM). */
export declare function defineLiveViewers(registry?: CustomElementRegistry): void;

/** <watchtime-live-viewers endpoint="..." movie="42" token="wtl_...">: role="status", data-state loading | ok | error. */
export interface WatchtimeLiveViewersElement extends HTMLElement {
  /** The last count read, or null before the first. */
  readonly viewers: number | null;
}

declare global {
  interface HTMLElementTagNameMap {
    "watchtime-live-viewers": WatchtimeLiveViewersElement;
  }
}
