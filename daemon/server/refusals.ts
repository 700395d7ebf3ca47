import type { AuditEvent } from '../audit/log';

/**
 * Refused connections (wrong token, a call before authenticating, no authentication in time,
 * too many connections waiting to authenticate), audited without letting one client flood the
 * log: the first refusal of a quiet period is recorded at once, with its reason and the name
 * the client gave; those that follow within `windowMs` are counted, by reason, and recorded as
 * one summary when the window ends (a client that keeps trying gets one record per window).
 * Nothing is dropped from the count.
 */
export class Refusals {
  private counts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly record: (e: AuditEvent) => Promise<void>,
    private readonly log: (line: string) => void,
    private readonly windowMs: number,
  ) {}

  /**
   * One refusal. `why` is a short reason (a fixed phrase: it is a key of the summary). Resolves
   * once it is on disk, when it is recorded now, or at once when it is counted for later.
   */
  note(why: string, client?: string): Promise<void> {
    if (this.timer === undefined) {
      this.open();
      return this.write({ event: 'auth', outcome: 'refused', detail: why, ...(client !== undefined ? { client: client.slice(0, 64) } : {}) });
    }
    this.counts.set(why, (this.counts.get(why) ?? 0) + 1);
    return Promise.resolve();
  }

  /** Records what the current window counted (the daemon stops); resolves once written. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.summarise();
    await this.pending;
  }

  private open(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A window that counted something is followed by another: a steady flood is one record per window.
      if (this.summarise()) this.open();
    }, this.windowMs);
    this.timer.unref();
  }

  /** Writes the summary of the counts, if any; whether there was one. */
  private summarise(): boolean {
    if (this.counts.size === 0) return false;
    let total = 0;
    const parts: string[] = [];
    for (const [why, n] of this.counts) {
      total += n;
      parts.push(`${why} x${n}`);
    }
    this.counts = new Map();
    void this.write({ event: 'auth', outcome: 'refused', detail: `${total} more refused in ${this.windowMs / 1000} s: ${parts.join(', ')}` });
    return true;
  }

  private write(e: AuditEvent): Promise<void> {
    this.log(`auth refused: ${e.detail ?? ''}`);
    this.pending = this.pending.then(() => this.record(e)).catch(() => undefined);
    return this.pending;
  }
}
