import type { Consent } from '../rewrite/types.js';

export type ConsentScope = 'opens' | 'clicks';
export const ALL_SCOPES: readonly ConsentScope[] = ['opens', 'clicks'];

/** One change to a recipient's consent. The store is an append-only list of these. */
export interface ConsentEvent {
  readonly id: number;
  /** Lower-cased address (local part case kept as given is not worth the ambiguity). */
  readonly address: string;
  readonly action: 'grant' | 'withdraw';
  readonly scopes: readonly ConsentScope[];
  /** Where consent came from, e.g. "webinar signup form 2026-10", free text. */
  readonly source: string;
  /** How it was recorded: cli, http, import, ... */
  readonly method: string;
  /** Evidence: a reference, a copy of the form text, a ticket number. */
  readonly evidence: string | null;
  /** Who recorded it (operator name or system). */
  readonly recordedBy: string;
  /** ISO-8601 UTC. */
  readonly at: string;
  /** ISO-8601 UTC expiry of a grant, or null. */
  readonly until: string | null;
}

export interface NewConsentEvent {
  readonly address: string;
  readonly action: 'grant' | 'withdraw';
  readonly scopes: readonly ConsentScope[];
  readonly source: string;
  readonly method?: string;
  readonly evidence?: string | null;
  readonly recordedBy?: string;
  readonly until?: string | null;
  /** Defaults to now; settable for imports and tests. */
  readonly at?: string;
}

/** Current state for one address, derived from its events. */
export interface ConsentState {
  readonly address: string;
  readonly consent: Consent;
  /** The events that produced it, oldest first. */
  readonly history: readonly ConsentEvent[];
}

/**
 * The consent store. Asynchronous on purpose: the SQLite backend answers synchronously, but a
 * PostgreSQL backend shared by several relays will not, and the SMTP code must not care.
 */
export interface ConsentStore {
  /** Consent for each address (lower-cased keys); unknown addresses get NO_CONSENT. */
  lookup(addresses: readonly string[]): Promise<Map<string, Consent>>;
  record(event: NewConsentEvent): Promise<ConsentEvent>;
  show(address: string): Promise<ConsentState>;
  list(): Promise<ConsentState[]>;
  close(): Promise<void>;
}
