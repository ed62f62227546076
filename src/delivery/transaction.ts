import { hostname } from 'node:os';

import { ERRORS, RelayError, isRelayError } from '../errors.js';
import { readHead } from '../segments.js';
import { DSN_HEAD_BYTES, dsnCopy } from './bounce.js';
import { dsnRecipient } from './dsnPolicy.js';
import { ignoreEvents } from './events.js';
import type { DeliveryEventSink } from './events.js';
import { byResponse, type Disposition, type DispositionSink, type DsnFate } from './dispositions.js';
import { oneLine, parseReply } from './reply.js';
import type { Spool, SpoolMeta } from './spool.js';
import { DEFAULT_RETRY_POLICY } from './spoolWorker.js';
import type { Copy, CopyOutcome, RecipientFailure } from './types.js';
import type { Upstream } from './upstream.js';
import { UNREACHABLE_CODE, UNREACHABLE_ENHANCED } from './upstream.js';

/** The reply to the client's end of DATA. */
export interface Reply {
  readonly code: number;
  /** RFC 3463 enhanced status code, "x.y.z". */
  readonly enhanced: string;
  readonly message: string;
}

export interface TransactionOptions {
  /** Our host name for DSNs. */
  readonly reportingMta?: string;
  readonly now?: () => number;
  /** When the worker should first retry a spooled remainder; the inline attempt counts as attempt 1. */
  readonly firstRetryDelayMs?: number;
  /** Called after something was spooled that should go out soon (a DSN): typically worker.kick. */
  readonly onSpooled?: () => void;
  readonly onEvent?: DeliveryEventSink;
  /** The transaction's id: carried by spool entries and dispositions so a message's record can be followed. */
  readonly queueId?: string;
  /** Told what became of every recipient before the reply is returned (the audit log). */
  readonly record?: DispositionSink;
}

/**
 * Deliver the copies of one SMTP transaction and decide the reply (architecture decision 4).
 * A 250 means we own the message, so it is only given once every recipient was either accepted
 * upstream or is durably in the spool (as a remainder to retry, or as a DSN telling the sender):
 *
 * - every recipient accepted                                → 250
 * - nothing accepted, any failure temporary                 → 451, nothing spooled; the client keeps
 *   the message and retries, which is also what a mix of permanent and temporary failures gets
 *   (the permanent ones will fail again at the client's retry and be bounced by the client)
 * - nothing accepted, all failures permanent                → the upstream's 5xx and reason
 * - some accepted, the rest failed temporarily             → the failed recipients of each copy are
 *   spooled (only those, with that copy's bytes), then 250
 * - some accepted, some failed permanently                 → 250 and a DSN to the sender, spooled
 *   before the reply. We cannot answer 5xx for part of the recipients after DATA (SMTP has a
 *   single reply per transaction, RFC 5321 §4.2.5 aside for LMTP), and a 5xx for the whole message
 *   would make the client bounce recipients that did get it. So we own the message and report the
 *   failures the way an MTA must once it has accepted: by DSN (never to the null sender).
 * - a spool write fails                                     → 451, and entries already written for
 *   this transaction are removed, so the client's retry is the only further delivery
 *   (recipients accepted upstream before the failure will get it again: unavoidable, and better
 *   than losing the others).
 *
 * Every recipient's disposition (dispositions.ts) goes to `options.record` before the reply is
 * returned and before a spooled DSN is kicked, with each copy's own upstream reply.
 *
 * Never rejects: unexpected errors become a 451.
 */
export async function deliverTransaction(copies: readonly Copy[], upstream: Upstream, spool: Spool, options: TransactionOptions = {}): Promise<Reply> {
  const now = options.now ?? Date.now;
  const emit = options.onEvent ?? ignoreEvents;
  const queueId = options.queueId ?? '';
  const live = copies.filter((c) => c.envelope.to.length > 0);
  const started = now();

  const outcomes = await Promise.all(live.map((c) => safeSend(upstream, c)));
  const accepted = outcomes.reduce((n, o) => n + o.accepted.length, 0);
  const failures = outcomes.flatMap((o) => o.failed);

  const dispositions: Disposition[] = [];
  const relayed = (): void => {
    for (const [i, copy] of live.entries()) {
      const o = outcomes[i] as CopyOutcome;
      if (o.accepted.length > 0) dispositions.push({ type: 'relayed', queueId, consentClass: copy.consentClass, recipients: o.accepted, response: o.response });
    }
  };
  /** Every failed recipient is refused along with the transaction: the client got `reply`. */
  const rejected = (reply: Reply): void => {
    for (const [i, copy] of live.entries()) {
      for (const [response, recipients] of byResponse((outcomes[i] as CopyOutcome).failed)) {
        dispositions.push({ type: 'rejected', queueId, consentClass: copy.consentClass, recipients, response, reply: replyLine(reply) });
      }
    }
  };
  const record = async (): Promise<void> => {
    if (options.record === undefined || dispositions.length === 0) return;
    try {
      await options.record(dispositions);
    } catch (err) {
      emit({ type: 'audit-failed', id: queueId || null, error: err instanceof Error ? err.message : String(err) });
    }
  };

  if (failures.length === 0) {
    relayed();
    await record();
    return { code: 250, enhanced: '2.0.0', message: `Ok: delivered to ${accepted} recipient${accepted === 1 ? '' : 's'}` };
  }

  if (accepted === 0) {
    const temporary = failures.find((f) => f.temporary);
    const reply = temporary !== undefined ? upstreamReply('UPSTREAM_TEMPORARY', temporary) : upstreamReply('UPSTREAM_PERMANENT', failures[0] as RecipientFailure);
    rejected(reply);
    await record();
    return reply;
  }

  // Partial delivery: make the rest durable before we answer 250.
  const written: string[] = [];
  /** Spooled and bounced recipients, recorded after the accepted ones. */
  const remainder: Disposition[] = [];
  let dsnSpooled = false;
  try {
    const firstRetry = options.firstRetryDelayMs ?? DEFAULT_RETRY_POLICY.initialDelayMs;
    for (const [i, copy] of live.entries()) {
      const outcome = outcomes[i] as CopyOutcome;
      const temporary = outcome.failed.filter((f) => f.temporary);
      if (temporary.length > 0) {
        const meta: SpoolMeta = {
          envelope: { from: copy.envelope.from, to: temporary.map((f) => f.recipient) },
          consentClass: copy.consentClass,
          messageId: copy.messageId,
          queueId: options.queueId ?? null,
          attempts: 1,
          firstAttemptAt: new Date(started).toISOString(),
          nextAttemptAt: new Date(now() + firstRetry).toISOString(),
          lastError: temporary[0]?.response ?? outcome.response,
          failures: temporary,
          ...(copy.senderVouched !== undefined ? { senderVouched: copy.senderVouched } : {}),
        };
        const id = await spool.enqueue(meta, copy.raw);
        written.push(id);
        emit({ type: 'spooled', id, consentClass: copy.consentClass, recipients: temporary.length });
        for (const [response, recipients] of byResponse(temporary)) {
          remainder.push({ type: 'spooled', queueId, consentClass: copy.consentClass, recipients, response, spoolId: id, attempt: 1, nextAttemptAt: meta.nextAttemptAt });
        }
      }
      const permanent = outcome.failed.filter((f) => !f.temporary);
      if (permanent.length > 0) {
        const bounced = (dsn: DsnFate): void => {
          for (const [response, recipients] of byResponse(permanent)) {
            remainder.push({ type: 'bounced', queueId, consentClass: copy.consentClass, recipients, response, spoolId: null, attempt: 1, cause: 'permanent', dsn });
          }
        };
        const dsnTo = dsnRecipient(copy.envelope.from, copy.senderVouched);
        if ('suppressed' in dsnTo) {
          emit({ type: 'dsn-suppressed', forId: null, reason: dsnTo.suppressed });
          bounced({ fate: 'suppressed', to: null, spoolId: null });
          continue;
        }
        const dsn = dsnCopy({
          reportingMta: options.reportingMta ?? hostname(),
          sender: copy.envelope.from,
          failures: permanent,
          raw: Buffer.isBuffer(copy.raw) ? copy.raw : await readHead(copy.raw, DSN_HEAD_BYTES),
          arrivalDate: new Date(started),
          date: new Date(now()),
        });
        const id = await spool.enqueue(
          {
            envelope: dsn.envelope,
            consentClass: dsn.consentClass,
            messageId: dsn.messageId,
            queueId: options.queueId ?? null,
            attempts: 0,
            firstAttemptAt: new Date(now()).toISOString(),
            nextAttemptAt: new Date(now()).toISOString(),
            lastError: null,
            failures: [],
          },
          dsn.raw,
        );
        written.push(id);
        dsnSpooled = true;
        emit({ type: 'dsn-queued', forId: null, id });
        bounced({ fate: 'queued', to: copy.envelope.from, spoolId: id });
      }
    }
  } catch (err) {
    for (const id of written) {
      await spool.remove(id).catch(() => undefined);
      emit({ type: 'spool-rollback', id });
    }
    const e = isRelayError(err) ? err : new RelayError('SPOOL_WRITE_FAILED', 'could not write to the spool', { cause: err });
    const reply = replyFor(e);
    // what was accepted did go out; everything else is the client's again
    relayed();
    rejected(reply);
    await record();
    return reply;
  }

  relayed();
  dispositions.push(...remainder);
  // recorded before the DSN is kicked, so its delivery cannot be on record before its bounce
  await record();
  if (dsnSpooled) options.onSpooled?.();

  const queued = failures.filter((f) => f.temporary).length;
  const bounced = failures.length - queued;
  const parts = [`delivered to ${accepted}`];
  if (queued > 0) parts.push(`queued ${queued} for retry`);
  if (bounced > 0) parts.push(`bounced ${bounced}`);
  return { code: 250, enhanced: '2.0.0', message: `Ok: ${parts.join(', ')}` };
}

function replyLine(reply: Reply): string {
  return `${reply.code} ${reply.enhanced} ${reply.message}`;
}

async function safeSend(upstream: Upstream, copy: Copy): Promise<CopyOutcome> {
  try {
    return await upstream.send(copy);
  } catch (err) {
    // Upstream.send is not supposed to reject; if it does, nothing is known to be delivered.
    const reason = oneLine(err instanceof Error ? err.message : String(err));
    const response = `${UNREACHABLE_CODE} ${UNREACHABLE_ENHANCED} upstream error: ${reason}`;
    return {
      accepted: [],
      failed: copy.envelope.to.map((recipient) => ({ recipient, code: UNREACHABLE_CODE, response, temporary: true })),
      response,
    };
  }
}

/** The reply for a copy nobody accepted: a RelayError carrying the upstream's reply code and text. */
function upstreamReply(code: 'UPSTREAM_TEMPORARY' | 'UPSTREAM_PERMANENT', failure: RecipientFailure): Reply {
  const parsed = parseReply(failure.response);
  const text = parsed.text || `upstream replied ${failure.code}`;
  // Decision 4 fixes the temporary reply at 451 whatever 4xx the upstream used; a permanent one
  // passes the upstream's own 5xx through.
  const responseCode = code === 'UPSTREAM_TEMPORARY' ? ERRORS.UPSTREAM_TEMPORARY.smtp : failure.code;
  return replyFor(new RelayError(code, text, { responseCode }), parsed.enhanced);
}

function replyFor(err: RelayError, upstreamEnhanced: string | null = null): Reply {
  // The upstream's enhanced code says more than ours, when its class agrees with the code we send.
  const sameClass = upstreamEnhanced !== null && upstreamEnhanced[0] === String(err.responseCode)[0];
  return { code: err.responseCode, enhanced: sameClass ? upstreamEnhanced : err.spec.enhanced, message: oneLine(err.message) };
}
