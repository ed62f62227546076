/**
 * Values that cross the delivery boundary: what the pipeline hands over (a Copy per consent class)
 * and what the upstream answered for it (a CopyOutcome). Plain data so they can be spooled as JSON.
 */
import type { Segments } from '../segments.js';

export interface Envelope {
  /** Envelope sender; '' is the null sender (bounces, DSNs), which must never receive a DSN. */
  readonly from: string;
  readonly to: readonly string[];
}

/**
 * One filtered copy of a message: the bytes that the recipients of one consent class receive,
 * in one buffer or as segments (src/segments.ts) that are streamed to the upstream or the spool.
 */
export interface Copy {
  readonly consentClass: string;
  readonly envelope: Envelope;
  readonly raw: Buffer | Segments;
  /** Message-ID header value of the copy, for logs and queue listings; null when the message has none. */
  readonly messageId: string | null;
  /**
   * The listener vouched for the envelope sender (dsnPolicy.ts), so a DSN may go to it. The
   * pipeline always sets it; absent means true (callers and spool entries from before the rule).
   */
  readonly senderVouched?: boolean;
}

/** One recipient the upstream did not accept, with the upstream's own reply. */
export interface RecipientFailure {
  readonly recipient: string;
  /** SMTP reply code (the upstream's, or 451 when it could not be reached). */
  readonly code: number;
  /** The reply text as received, e.g. "550 5.1.1 <x@example.org>: user unknown". */
  readonly response: string;
  /** true for 4xx (and 503): the same copy may be accepted later. */
  readonly temporary: boolean;
}

/**
 * What the upstream did with one copy. Every recipient of the copy is in exactly one of
 * `accepted` and `failed`; a recipient the upstream did not explicitly accept counts as failed.
 */
export interface CopyOutcome {
  readonly accepted: readonly string[];
  readonly failed: readonly RecipientFailure[];
  /** The upstream's final reply (after DATA), or the error reply when the copy failed as a whole. */
  readonly response: string;
}
