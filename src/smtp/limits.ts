/**
 * Abuse limits for listeners that authenticate (auth.*): failed AUTH attempts per client address
 * and per user name, with a lockout that doubles each time the same key earns another one, and
 * messages / recipients per user per minute. In memory, per relay process: a restart forgets
 * lockouts, which costs an attacker a restart of our process, not theirs.
 */

export interface FailureLimits {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly lockoutMs: number;
}

const MAX_LOCKOUT_MS = 24 * 3_600_000;
/** Keys remembered at once; beyond this the oldest entry is forgotten (bounded memory under a spray). */
const MAX_KEYS = 100_000;

interface FailureState {
  failures: number[];
  lockedUntil: number;
  lockouts: number;
}

export class FailureCounter {
  private readonly byKey = new Map<string, FailureState>();

  constructor(
    private readonly limits: FailureLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it is not locked out. */
  lockedFor(key: string): number {
    const s = this.byKey.get(key);
    return s ? Math.max(0, s.lockedUntil - this.now()) : 0;
  }

  /** Record a failure; returns the new lockout in ms (0 when this failure did not lock the key). */
  fail(key: string): number {
    const now = this.now();
    let s = this.byKey.get(key);
    if (!s) {
      if (this.byKey.size >= MAX_KEYS) this.byKey.delete(this.byKey.keys().next().value!);
      s = { failures: [], lockedUntil: 0, lockouts: 0 };
    }
    this.byKey.delete(key);
    this.byKey.set(key, s);
    s.failures = s.failures.filter((t) => t > now - this.limits.windowMs);
    s.failures.push(now);
    if (s.failures.length < this.limits.maxFailures) return 0;
    const ms = Math.min(this.limits.lockoutMs * 2 ** s.lockouts, MAX_LOCKOUT_MS);
    s.lockouts++;
    s.lockedUntil = now + ms;
    s.failures = [];
    return ms;
  }

  /** A success forgets the failures (not a lockout's history, so a repeat offender still doubles). */
  succeed(key: string): void {
    const s = this.byKey.get(key);
    if (s) s.failures = [];
  }
}

/** Events per key in a sliding minute. */
export class PerMinute {
  private readonly byKey = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Take one; false (nothing taken) when the key has used its minute's allowance. */
  take(key: string): boolean {
    const now = this.now();
    const recent = (this.byKey.get(key) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= this.limit) {
      this.byKey.set(key, recent);
      return false;
    }
    recent.push(now);
    this.byKey.delete(key);
    this.byKey.set(key, recent);
    if (this.byKey.size > MAX_KEYS) this.byKey.delete(this.byKey.keys().next().value!);
    return true;
  }
}
