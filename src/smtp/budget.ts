/**
 * The global budget for message bytes in flight (`limits.memoryBudget`), shared by every listener.
 * A message is charged before the pipeline holds it in memory and released when its reply is sent;
 * when the budget is spent, a message waits briefly for others to finish and then gets 452 4.3.1,
 * rather than the process growing until the machine decides.
 */

/**
 * What one message costs in memory while it is processed, charged before the engine runs. The
 * engine holds only the parts it inspects (text/html, text/plain, CSS, AMP, SVG, inline forwarded
 * messages), and at its peak they cost far more than their bytes: the body as received, decoded,
 * as a string, parse5's tree with source locations, the candidates, the edited copy and its
 * encoding. `npm run bench:cost` measured the peak RSS growth at 35-46 × the inspected bytes for
 * tracker-dense newsletter HTML (2-23 MB) and 21-27 × for plain prose (2026-11-30); TEXT_FACTOR
 * covers the dense case. Everything else (attachments) is streamed from the file it was received
 * into, to the upstream or the spool, 64 KB at a time (the same bench: a 47 MB attachment grew the
 * peak by nothing measurable): MESSAGE_FLOOR covers those buffers and the splitter's and the
 * connections' own.
 */
const TEXT_FACTOR = 40;
const MESSAGE_FLOOR = 2 * 1024 * 1024;

/** The budget one message is charged: `inspectedBytes` are its text parts' body bytes (engine measureInspected). */
export function messageCost(inspectedBytes: number): number {
  return MESSAGE_FLOOR + TEXT_FACTOR * inspectedBytes;
}

interface Waiter {
  readonly bytes: number;
  readonly resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout | null;
}

export class MemoryBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly total: number) {}

  inUse(): number {
    return this.used;
  }

  /** Take `bytes` now if they are free and nobody is queued before us. */
  tryReserve(bytes: number): boolean {
    if (this.waiters.length > 0 || this.used + bytes > this.total) return false;
    this.used += bytes;
    return true;
  }

  /** Take `bytes`, waiting up to `waitMs` in arrival order; false when they did not become free. */
  reserve(bytes: number, waitMs: number): Promise<boolean> {
    if (bytes > this.total) return Promise.resolve(false);
    if (this.tryReserve(bytes)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w: Waiter = { bytes, resolve, timer: null };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
        // the head may have been a big one that timed out: smaller ones behind it may fit now
        this.wake();
      }, waitMs);
      w.timer.unref();
      this.waiters.push(w);
    });
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.wake();
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0]!.bytes <= this.total) {
      const w = this.waiters.shift()!;
      if (w.timer) clearTimeout(w.timer);
      this.used += w.bytes;
      w.resolve(true);
    }
  }
}
