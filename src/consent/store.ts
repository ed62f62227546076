import type { Consent } from '../rewrite/types.js';

export type ConsentScope = 'opens' | 'clicks';
export const ALL_SCOPES: readonly ConsentScope[] = ['opens', 'clicks'];

/**
 * One change to a recipient's consent. The store is an append-only list of these.
 *
 * `address` is either a mailbox ("alice@customer.example") or a whole domain written with a
 * leading "@" ("@customer.example": a customer's contract covers everyone there). How the two
 * combine is decided in derive.ts, not by a backend.
 */
export interface ConsentEvent {
  readonly id: number;
  /** Lower-cased address, or "@domain" for a domain-level record. */
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
  /** The version of the wording the person was shown ("newsletter form v3"), or null. */
  readonly wordingVersion: string | null;
  /** SHA-256 (hex) of that wording's text, so the text kept elsewhere can be proven unchanged. */
  readonly wordingSha256: string | null;
  /** For imported events: SHA-256 (hex) of the imported file, and the line the record started on. */
  readonly importSha256: string | null;
  readonly importLine: number | null;
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
  readonly wordingVersion?: string | null;
  readonly wordingSha256?: string | null;
  readonly importSha256?: string | null;
  readonly importLine?: number | null;
}

/** Current state for one address, derived from its events and those of its domain. */
export interface ConsentState {
  /** The mailbox, or "@domain" for a domain-level record. */
  readonly address: string;
  readonly consent: Consent;
  /** The address's own events, oldest first. */
  readonly history: readonly ConsentEvent[];
  /** Events of the address's domain ("@domain") that also apply to it, oldest first; [] for a domain itself. */
  readonly domainHistory: readonly ConsentEvent[];
}

/** A do-not-contact record (GDPR art. 21 objection). */
export interface Objection {
  /** null once the person was erased: only the keyed hash remains, so they stay suppressed. */
  readonly address: string | null;
  readonly at: string;
  readonly source: string;
  readonly recordedBy: string;
}

export interface ErasureResult {
  /** Consent events deleted (the person's own; domain records are not theirs). */
  readonly consentEvents: number;
  /** Whether a do-not-contact record existed and was kept as a keyed hash only. */
  readonly suppressionKept: boolean;
}

export interface PurgeCutoffs {
  /** Histories whose latest event is older than this and of which nothing is in force. */
  readonly consentHistoryBefore?: string;
}

/**
 * The consent store. Asynchronous on purpose: the SQLite backend answers synchronously, but a
 * PostgreSQL backend shared by several relays will not, and the SMTP code must not care.
 * Everything a backend does is storage; how records combine into consent is derive.ts.
 */
export interface ConsentStore {
  /** Consent for each address (lower-cased keys); unknown addresses get NO_CONSENT. */
  lookup(addresses: readonly string[]): Promise<Map<string, Consent>>;
  record(event: NewConsentEvent): Promise<ConsentEvent>;
  /** Every event or none (one transaction): an import is all-or-nothing. */
  recordMany(events: readonly NewConsentEvent[]): Promise<ConsentEvent[]>;
  show(address: string): Promise<ConsentState>;
  list(): Promise<ConsentState[]>;
  /** The addresses among these that objected to contact (lower-cased). */
  doNotContact(addresses: readonly string[]): Promise<Set<string>>;
  /** Record an objection; returns the record (an existing one is kept as it is). */
  object(address: string, source: string, recordedBy: string): Promise<Objection>;
  objection(address: string): Promise<Objection | null>;
  /** Delete the address's consent history; an objection survives as a keyed hash only. */
  erase(address: string): Promise<ErasureResult>;
  /** The address changed: its history (and objection) now belong to `to`. Returns events moved. */
  rectify(from: string, to: string): Promise<number>;
  /** Delete what retention says is expired; returns rows deleted per kind. */
  purge(cutoffs: PurgeCutoffs): Promise<{ consentEvents: number }>;
  close(): Promise<void>;
}
