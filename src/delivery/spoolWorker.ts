import { hostname } from 'node:os';

import { readHead } from '../segments.js';
import { DSN_HEAD_BYTES, dsnCopy } from './bounce.js';
import { dsnRecipient } from './dsnPolicy.js';
import { ignoreEvents } from './events.js';
import type { DeliveryEventSink } from './events.js';
import { byResponse, type Disposition, type DispositionSink, type DsnFate } from './dispositions.js';
import type { Spool, SpoolEntry, SpoolMessage, SpoolMeta } from './spool.js';
import type { Segments } from '../segments.js';

/** An entry about to be sent: read whole (refiltered) or opened as a stream. */
type Sendable = SpoolEntry & { readonly raw: Buffer | Segments };
import type { RecipientFailure } from './types.js';
import type { Upstream } from './upstream.js';

/**
 * Retries what the spool holds.
 *
 * Exactly-once: an entry (or a recipient of it) leaves the spool only after the upstream accepted
 * it, and the spool is rewritten right after each attempt. A crash between the upstream's 250 and
 * that rewrite delivers those recipients again on restart: SMTP has no way to close that window
 * (RFC 1047), so it is kept to one fsync'd rename. Duplicates are possible there; losses are not.
 * The same holds for DSNs: one whose send was accepted may be sent again if we crash before the
 * entry is removed, and a DSN for recipients that failed permanently while others are still being
 * retried is sent after the entry was rewritten, so a crash in between loses that DSN (never mail).
 */

export interface RetryPolicy {
  /** Delay before the first retry. */
  readonly initialDelayMs: number;
  /** Each further delay is the previous one times this. */
  readonly factor: number;
  readonly maxDelayMs: number;
  /** Measured from the first attempt; after it, the remaining recipients are bounced. */
  readonly giveUpAfterMs: number;
}

/** Roughly what MTAs do: first retry after minutes, at most hourly-ish, bounce after five days. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  initialDelayMs: 5 * 60_000,
  factor: 2,
  maxDelayMs: 4 * 3_600_000,
  giveUpAfterMs: 5 * 24 * 3_600_000,
});

/** Delay after `attempts` failed attempts (attempts >= 1). */
export function retryDelay(policy: RetryPolicy, attempts: number): number {
  const exp = policy.initialDelayMs * policy.factor ** Math.max(0, attempts - 1);
  return Math.min(Number.isFinite(exp) ? exp : policy.maxDelayMs, policy.maxDelayMs);
}

export interface SpoolWorkerOptions {
  readonly spool: Spool;
  readonly upstream: Upstream;
  /** Our host name for DSNs. */
  readonly reportingMta?: string;
  readonly policy?: Partial<RetryPolicy>;
  /** Clock in ms since the epoch; tests move it instead of waiting. */
  readonly now?: () => number;
  /** How often a started worker scans for due entries (it also picks up `queue retry` from the CLI this way). */
  readonly pollIntervalMs?: number;
  /** Entries attempted at the same time. */
  readonly concurrency?: number;
  readonly onEvent?: DeliveryEventSink;
  /** Told every attempt's dispositions (retried, delivered-from-spool, bounced) once the spool reflects them. */
  readonly record?: DispositionSink;
  /**
   * Asked before each attempt (pipeline/refilter.ts): the entry as it should be sent now (consent
   * may have shrunk since it was spooled), or null when nothing of it is left to send now.
   */
  readonly refilter?: (msg: SpoolMessage) => Promise<SpoolMessage | null>;
}

export class SpoolWorker {
  private readonly spool: Spool;
  private readonly upstream: Upstream;
  private readonly reportingMta: string;
  private readonly policy: RetryPolicy;
  private readonly now: () => number;
  private readonly pollIntervalMs: number;
  private readonly concurrency: number;
  private readonly emit: DeliveryEventSink;
  private readonly recordSink: DispositionSink | undefined;
  private readonly refilter: ((msg: SpoolMessage) => Promise<SpoolMessage | null>) | undefined;

  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopping = false;
  private scanning: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(options: SpoolWorkerOptions) {
    this.spool = options.spool;
    this.upstream = options.upstream;
    this.reportingMta = options.reportingMta ?? hostname();
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
    this.now = options.now ?? Date.now;
    this.pollIntervalMs = options.pollIntervalMs ?? 30_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.emit = options.onEvent ?? ignoreEvents;
    this.recordSink = options.record;
    this.refilter = options.refilter;
  }

  /** Scan now and then every pollIntervalMs until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.schedule(0);
  }

  /** Stop scanning; resolves once attempts in flight have finished and their results are on disk. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.queued?.catch(() => undefined);
    await this.scanning?.catch(() => undefined);
    this.stopping = false;
  }

  /**
   * Attempt every due entry now; resolves when that pass is done. Works whether or not the worker
   * was started. A kick during a pass runs one more pass after it (so nothing queued meanwhile is missed).
   */
  kick(): Promise<void> {
    if (this.scanning !== null) {
      this.queued ??= this.scanning.then(() => {
        this.queued = null;
        return this.kick();
      });
      return this.queued;
    }
    this.scanning = this.scan().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.kick().finally(() => {
        if (this.running) this.schedule(this.pollIntervalMs);
      });
    }, delay);
    // The SMTP listener keeps the process alive; a pending retry alone should not.
    this.timer.unref();
  }

  private async scan(): Promise<void> {
    let due: string[];
    try {
      const now = this.now();
      due = (await this.spool.list()).filter((e) => Date.parse(e.meta.nextAttemptAt) <= now).map((e) => e.id);
    } catch (err) {
      this.emit({ type: 'worker-error', id: null, error: errorText(err) });
      return;
    }
    const next = (): Promise<void> => {
      const id = due.shift();
      if (id === undefined || this.stopping) return Promise.resolve();
      return this.attempt(id)
        .catch((err: unknown) => this.emit({ type: 'worker-error', id, error: errorText(err) }))
        .then(next);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, due.length) }, next));
  }

  private async attempt(id: string): Promise<void> {
    if (this.refilter) {
      // a withdrawal since it was spooled: filtered again first (a failure leaves the entry for the
      // next scan). The refilter reads the entry whole; without one the entry is streamed.
      const stored = await this.spool.get(id);
      if (stored === null) return; // delivered or dropped meanwhile
      const msg = stored.meta.envelope.to.length > 0 ? await this.refilter(stored) : stored;
      if (msg === null) return;
      await this.attemptOpened(id, msg);
      return;
    }
    // streamed from disk as it is sent: a large spooled copy is never read whole into memory
    const msg = await this.spool.open(id);
    if (msg === null) return; // delivered or dropped meanwhile
    try {
      await this.attemptOpened(id, msg);
    } finally {
      await msg.close();
    }
  }

  private async attemptOpened(id: string, msg: Sendable): Promise<void> {
    const meta = msg.meta;
    if (meta.envelope.to.length === 0) {
      await this.spool.remove(id);
      return;
    }

    const outcome = await this.upstream.send({
      consentClass: meta.consentClass,
      envelope: meta.envelope,
      raw: msg.raw,
      messageId: meta.messageId,
    });

    const now = this.now();
    const deadline = Date.parse(meta.firstAttemptAt) + this.policy.giveUpAfterMs;
    const expired = now >= deadline;
    const permanent = outcome.failed.filter((f) => !f.temporary);
    const temporary = outcome.failed.filter((f) => f.temporary);
    const bounce = expired ? [...permanent, ...temporary] : permanent;
    const keep = expired ? [] : temporary;

    const attempt = meta.attempts + 1;
    const base = { queueId: meta.queueId ?? id, consentClass: meta.consentClass, spoolId: id, attempt };
    const dispositions: Disposition[] = [];
    if (outcome.accepted.length > 0) dispositions.push({ ...base, type: 'delivered-from-spool', recipients: outcome.accepted, response: outcome.response });
    const bounced = (failures: readonly RecipientFailure[], dsn: DsnFate): void => {
      for (const cause of ['permanent', 'expired'] as const) {
        const these = failures.filter((f) => f.temporary === (cause === 'expired'));
        for (const [response, recipients] of byResponse(these)) dispositions.push({ ...base, type: 'bounced', recipients, response, cause, dsn });
      }
    };

    if (keep.length === 0) {
      if (bounce.length > 0) {
        if (outcome.accepted.length > 0) {
          // Drop the accepted recipients from the entry before the DSN: if the DSN cannot be sent
          // or spooled, the entry stays for another try, and must not deliver to them twice.
          await this.spool.update(id, { ...meta, envelope: { from: meta.envelope.from, to: bounce.map((f) => f.recipient) } });
        }
        this.emit({ type: 'gave-up', id, recipients: bounce.length, permanent: !expired || temporary.length === 0 });
        bounced(bounce, await this.bounce(msg, bounce));
      }
      await this.spool.remove(id);
      if (outcome.accepted.length > 0) this.emit({ type: 'retry-delivered', id, accepted: outcome.accepted.length });
      await this.record(id, dispositions);
      return;
    }

    // Record progress before anything else: accepted recipients must leave the entry at once.
    const nextAttemptAt = new Date(Math.min(now + retryDelay(this.policy, attempt), Math.max(deadline, now))).toISOString();
    const lastError = keep[0]?.response ?? outcome.response;
    const updated: SpoolMeta = {
      ...meta,
      envelope: { from: meta.envelope.from, to: keep.map((f) => f.recipient) },
      attempts: attempt,
      nextAttemptAt,
      lastError,
      failures: keep,
    };
    const stillThere = await this.spool.update(id, updated);
    if (outcome.accepted.length > 0) this.emit({ type: 'retry-delivered', id, accepted: outcome.accepted.length });
    if (stillThere) {
      this.emit({ type: 'retry-deferred', id, remaining: keep.length, attempts: attempt, nextAttemptAt, lastError });
    }
    // the attempt failed whether or not an operator dropped the entry meanwhile (the drop has its own record)
    for (const [response, recipients] of byResponse(keep)) dispositions.push({ ...base, type: 'retried', recipients, response, nextAttemptAt });
    if (permanent.length > 0) {
      this.emit({ type: 'gave-up', id, recipients: permanent.length, permanent: true });
      bounced(permanent, await this.bounce(msg, permanent));
    }
    await this.record(id, dispositions);
  }

  /** Hand dispositions to the sink; a failure is reported, and delivery goes on. */
  private async record(id: string, dispositions: readonly Disposition[]): Promise<void> {
    if (this.recordSink === undefined || dispositions.length === 0) return;
    try {
      await this.recordSink(dispositions);
    } catch (err) {
      this.emit({ type: 'audit-failed', id, error: errorText(err) });
    }
  }

  /**
   * Tell the sender. Sent at once through the same upstream; if that is deferred the DSN goes into
   * the spool as an entry of its own (null sender, so it is never bounced in turn), and a DSN the
   * upstream refuses for good is dropped: there is nobody left to tell.
   */
  private async bounce(msg: Sendable, failures: readonly RecipientFailure[]): Promise<DsnFate> {
    const sender = msg.meta.envelope.from;
    const dsnTo = dsnRecipient(sender, msg.meta.senderVouched);
    if ('suppressed' in dsnTo) {
      this.emit({ type: 'dsn-suppressed', forId: msg.id, reason: dsnTo.suppressed });
      return { fate: 'suppressed', to: null, spoolId: null };
    }
    const copy = dsnCopy({
      reportingMta: this.reportingMta,
      sender,
      failures,
      raw: Buffer.isBuffer(msg.raw) ? msg.raw : await readHead(msg.raw, DSN_HEAD_BYTES),
      arrivalDate: new Date(msg.meta.firstAttemptAt),
      date: new Date(this.now()),
    });
    const outcome = await this.upstream.send(copy);
    if (outcome.accepted.length > 0) {
      this.emit({ type: 'dsn-sent', forId: msg.id, recipients: failures.length });
      return { fate: 'sent', to: sender, spoolId: null };
    }
    const failure = outcome.failed[0];
    if (failure !== undefined && !failure.temporary) {
      this.emit({ type: 'dsn-undeliverable', forId: msg.id, code: failure.code });
      return { fate: 'undeliverable', to: sender, spoolId: null };
    }
    const now = this.now();
    const id = await this.spool.enqueue(
      {
        envelope: copy.envelope,
        consentClass: copy.consentClass,
        messageId: copy.messageId,
        queueId: msg.meta.queueId ?? msg.id,
        attempts: 1,
        firstAttemptAt: new Date(now).toISOString(),
        nextAttemptAt: new Date(now + retryDelay(this.policy, 1)).toISOString(),
        lastError: failure?.response ?? outcome.response,
        failures: outcome.failed,
      },
      copy.raw,
    );
    this.emit({ type: 'dsn-queued', forId: msg.id, id });
    return { fate: 'queued', to: sender, spoolId: id };
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
