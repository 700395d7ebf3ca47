// The requests the daemon is serving now, over every connection: counted by the server
// (daemon.ts) and reported by `daemon/status` (handlers.ts), so that a client, or a test after
// killing one, can wait until work a gone client started has ended.
let inFlight = 0;

export const requests = {
  started(): void {
    inFlight++;
  },
  ended(): void {
    inFlight--;
  },
  /** Requests being served, the caller's own included. */
  get inFlight(): number {
    return inFlight;
  },
};
