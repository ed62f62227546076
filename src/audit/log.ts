/**
 * The audit log contract, so that a PostgreSQL backend shared by several relays can stand in for
 * SQLite without the pipeline noticing. Asynchronous for that reason.
 */
import type { AuditEvent, AuditEventType } from './events.js';

export interface AuditQuery {
  /** Only events at or after this ISO-8601 time. */
  readonly since?: string;
  /** Only events before this ISO-8601 time. */
  readonly until?: string;
  /** Only events concerning this recipient (matched through its hash; the address is not searched). */
  readonly recipient?: string;
  /** Only events of messages from this envelope sender: its `relayed` rows and every other row with the same queueId. */
  readonly sender?: string;
  readonly type?: AuditEventType;
  /** Only events of this SMTP transaction (the queue id in the client's 250 reply and in every row): a message's whole record. */
  readonly queueId?: string;
  /** At most this many rows: the most recent ones. */
  readonly limit?: number;
}

/**
 * An event as stored: `id` gives the order of appending. `recipientHashes` come back sorted and
 * without duplicates (the set of recipients, not the order they were given in).
 */
export type AuditRow = AuditEvent & { readonly id: number };

export interface AuditLog {
  /**
   * Store events, all or none (one transaction). `subjects` are the recipient addresses behind
   * the events' hashes: kept apart from the events (hash → address) so that erasing a person
   * deletes one row and leaves the log intact. Throws RelayError AUDIT_UNAVAILABLE.
   */
  append(events: readonly AuditEvent[], subjects?: readonly string[]): Promise<void>;
  /** Matching rows, oldest first. */
  list(query?: AuditQuery): Promise<AuditRow[]>;
  /**
   * The pseudonym that stands for `address` in this log's events, created on first use: a random
   * value kept beside the address in the subjects table, not a function of the address, so that
   * once the subject row is gone (erasure, retention) nobody, key or no key, can link the events
   * to the person again. The next message to the same address gets a new pseudonym.
   */
  recipientHash(address: string): string;
  /** The pseudonym of `address` if the log knows the address; never creates one (for queries). */
  subjectHash(address: string): string | null;
  /** Erasure: forget the address (its subject row). Events stay, counted, unlinked. Returns how many events mention its pseudonym. */
  forget(address: string): Promise<{ readonly known: boolean; readonly events: number }>;
  /** The address changed: its pseudonym now stands for `to`. false when the log never knew `from`. */
  rectify(from: string, to: string): Promise<boolean>;
  /** Retention: delete events before `eventsBefore` and forget addresses no event since `addressesUnusedSince` mentions. */
  purge(cutoffs: { readonly eventsBefore?: string; readonly addressesUnusedSince?: string }): Promise<{ readonly events: number; readonly addresses: number }>;
  close(): Promise<void>;
}
