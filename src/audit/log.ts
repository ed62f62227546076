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
  /** The hash that stands for `address` in this log's events (see keys.ts). */
  recipientHash(address: string): string;
  close(): Promise<void>;
}
