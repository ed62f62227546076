/**
 * The consent store on SQLite: `<dataDir>/consent.db`, an append-only list of consent events from
 * which the current state is derived on every read (decision 7: consent is data with evidence).
 *
 * Derivation rule, per address and per scope: the event with the latest `at` (then the highest id)
 * that names the scope decides. A grant counts until its `until`; a withdrawal, an expired grant or
 * no event at all means no consent.
 */
import type { Statement } from 'better-sqlite3';

import { RelayError } from '../errors.js';
import type { Consent } from '../rewrite/types.js';
import { NO_CONSENT } from '../rewrite/types.js';
import { openDatabase, guarded, sqliteError } from '../store/sqlite.js';
import type { Migration, SqliteDatabase } from '../store/sqlite.js';
import { normaliseAddress, validateAddress } from './address.js';
import { ALL_SCOPES } from './store.js';
import type { ConsentEvent, ConsentScope, ConsentState, ConsentStore, NewConsentEvent } from './store.js';

export const CONSENT_DB_FILE = 'consent.db';

/**
 * Erasure (GDPR art. 17) is deliberately not implemented yet. The planned design, so that the
 * triggers below need not be weakened in the meantime: a migration adds a table
 * `consent_erasures(address, at, recorded_by)`, and the DELETE trigger gains
 * `WHEN NOT EXISTS (SELECT 1 FROM consent_erasures WHERE address = OLD.address)`. An
 * `eraseAddress()` method then, in one transaction, inserts the erasure row, deletes that
 * address's events and replaces the erasure row's address by its audit hash, so the store keeps
 * proof that an erasure happened without keeping whom it concerned. UPDATE stays forbidden.
 * After erasure the address has no events, i.e. no consent: the safe default.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    description: 'append-only consent events',
    sql: `
      CREATE TABLE consent_events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        address     TEXT NOT NULL CHECK (address = lower(trim(address)) AND address LIKE '%_@_%'),
        action      TEXT NOT NULL CHECK (action IN ('grant', 'withdraw')),
        scopes      TEXT NOT NULL CHECK (scopes <> ''),
        source      TEXT NOT NULL,
        method      TEXT NOT NULL,
        evidence    TEXT,
        recorded_by TEXT NOT NULL,
        at          TEXT NOT NULL,
        until       TEXT,
        CHECK (until IS NULL OR action = 'grant')
      );
      CREATE INDEX consent_events_address ON consent_events (address, at, id);
      CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
      BEGIN
        SELECT RAISE(ABORT, 'consent_events is append-only: record a new grant or withdraw event instead of changing history');
      END;
      CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
      BEGIN
        SELECT RAISE(ABORT, 'consent_events is append-only: record a withdraw event instead of deleting history');
      END;
    `,
  },
];

interface EventRow {
  readonly id: number;
  readonly address: string;
  readonly action: string;
  readonly scopes: string;
  readonly source: string;
  readonly method: string;
  readonly evidence: string | null;
  readonly recorded_by: string;
  readonly at: string;
  readonly until: string | null;
}

export interface SqliteConsentStoreOptions {
  /** Lock wait before CONSENT_STORE_UNAVAILABLE; default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** The clock that decides whether a grant has expired; for tests. */
  readonly now?: () => Date;
}

/** Events recorded with `at` further ahead than this are refused: clocks drift, history does not. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

const COLUMNS = 'id, address, action, scopes, source, method, evidence, recorded_by, at, until';

export class SqliteConsentStore implements ConsentStore {
  readonly file: string;
  private readonly db: SqliteDatabase;
  private readonly now: () => Date;
  private readonly insertStmt: Statement<[string, string, string, string, string, string | null, string, string, string | null], EventRow>;
  private readonly byAddressesStmt: Statement<[string], EventRow>;
  private readonly byAddressStmt: Statement<[string], EventRow>;
  private readonly allStmt: Statement<[], EventRow>;

  /** Opens (creating and migrating if needed). Throws RelayError CONSENT_STORE_UNAVAILABLE. */
  constructor(dataDir: string, options: SqliteConsentStoreOptions = {}) {
    this.db = openDatabase({
      dataDir,
      fileName: CONSENT_DB_FILE,
      code: 'CONSENT_STORE_UNAVAILABLE',
      label: 'consent store',
      migrations: MIGRATIONS,
      ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    });
    this.file = this.db.name;
    this.now = options.now ?? (() => new Date());
    try {
      this.insertStmt = this.db.prepare(
        `INSERT INTO consent_events (address, action, scopes, source, method, evidence, recorded_by, at, until)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
      );
      // one statement for any number of addresses: a JSON array bound once, no variable limit,
      // and each element is an index seek on consent_events_address
      this.byAddressesStmt = this.db.prepare(
        `SELECT ${COLUMNS} FROM consent_events
         WHERE address IN (SELECT value FROM json_each(?))
         ORDER BY address, at, id`,
      );
      this.byAddressStmt = this.db.prepare(`SELECT ${COLUMNS} FROM consent_events WHERE address = ? ORDER BY at, id`);
      this.allStmt = this.db.prepare(`SELECT ${COLUMNS} FROM consent_events ORDER BY address, at, id`);
    } catch (err) {
      this.db.close();
      throw this.fail(err);
    }
  }

  /** Same as the constructor; reads better at a composition root that awaits everything. */
  static async open(dataDir: string, options: SqliteConsentStoreOptions = {}): Promise<SqliteConsentStore> {
    return new SqliteConsentStore(dataDir, options);
  }

  /**
   * Addresses are only normalised here, not validated: an odd RCPT address simply has no record
   * and gets NO_CONSENT rather than failing the whole lookup.
   */
  async lookup(addresses: readonly string[]): Promise<Map<string, Consent>> {
    const keys = [...new Set(addresses.map(normaliseAddress))];
    const out = new Map<string, Consent>(keys.map((k) => [k, NO_CONSENT]));
    if (!keys.length) return out;
    const rows = this.guard(() => this.byAddressesStmt.all(JSON.stringify(keys)));
    const now = this.now();
    for (const [address, events] of groupByAddress(rows.map(toEvent))) out.set(address, deriveConsent(events, now));
    return out;
  }

  async record(event: NewConsentEvent): Promise<ConsentEvent> {
    const e = this.validate(event);
    const row = this.guard(() =>
      this.insertStmt.get(e.address, e.action, e.scopes.join(','), e.source, e.method, e.evidence, e.recordedBy, e.at, e.until),
    );
    if (!row) throw new RelayError('CONSENT_STORE_UNAVAILABLE', `consent store ${this.file}: insert returned no row`);
    return toEvent(row);
  }

  async show(address: string): Promise<ConsentState> {
    const key = validateAddress(address);
    const history = this.guard(() => this.byAddressStmt.all(key)).map(toEvent);
    return { address: key, consent: deriveConsent(history, this.now()), history };
  }

  /** Every address that has at least one event, in address order. */
  async list(): Promise<ConsentState[]> {
    const rows = this.guard(() => this.allStmt.all()).map(toEvent);
    const now = this.now();
    return [...groupByAddress(rows)].map(([address, history]) => ({ address, consent: deriveConsent(history, now), history }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private validate(event: NewConsentEvent): Omit<ConsentEvent, 'id'> {
    const usage = (msg: string): never => {
      throw new RelayError('USAGE', msg);
    };
    const address = validateAddress(event.address);
    if (event.action !== 'grant' && event.action !== 'withdraw') usage(`consent action must be "grant" or "withdraw", not "${String(event.action)}"`);
    const scopes = canonicalScopes(event.scopes);
    if (!scopes.length) usage('name at least one consent scope (opens, clicks)');
    const source = event.source.trim();
    if (event.action === 'grant' && !source) usage('a grant needs a source: where the consent came from, e.g. "signup form on example.com, 2026-10"');
    const now = this.now();
    const at = event.at === undefined ? now.toISOString() : isoTime(event.at, 'at');
    if (Date.parse(at) > now.getTime() + FUTURE_TOLERANCE_MS) usage(`"at" ${at} is in the future; record events when they happen`);
    let until: string | null = null;
    if (event.until !== undefined && event.until !== null) {
      if (event.action !== 'grant') usage('"until" applies to grants only; a withdrawal has no end');
      until = isoTime(event.until, 'until');
      if (until <= at) usage(`"until" ${until} is not after the time of the grant (${at})`);
    }
    return {
      address,
      action: event.action,
      scopes,
      // only a withdrawal can get here without a source: it must be as easy as granting
      source: source || 'withdrawal',
      method: event.method?.trim() || 'api',
      evidence: event.evidence?.trim() || null,
      recordedBy: event.recordedBy?.trim() || 'unknown',
      at,
      until,
    };
  }

  private guard<T>(fn: () => T): T {
    return guarded(fn, 'CONSENT_STORE_UNAVAILABLE', 'consent store', this.file);
  }

  private fail(err: unknown): RelayError {
    return sqliteError(err, 'CONSENT_STORE_UNAVAILABLE', 'consent store', this.file);
  }
}

/** Known scopes in their canonical order, duplicates removed; unknown ones are a USAGE error. */
export function canonicalScopes(scopes: readonly string[]): ConsentScope[] {
  for (const s of scopes) {
    if (!(ALL_SCOPES as readonly string[]).includes(s)) {
      throw new RelayError('USAGE', `unknown consent scope "${s}"; known scopes: ${ALL_SCOPES.join(', ')}`);
    }
  }
  return ALL_SCOPES.filter((s) => scopes.includes(s));
}

/** The rule in the module comment; `events` must be ordered by (at, id). */
export function deriveConsent(events: readonly ConsentEvent[], now: Date): Consent {
  const decisive = new Map<ConsentScope, ConsentEvent>();
  for (const e of events) for (const s of e.scopes) decisive.set(s, e);
  const granted = (s: ConsentScope): boolean => {
    const e = decisive.get(s);
    return e !== undefined && e.action === 'grant' && (e.until === null || Date.parse(e.until) > now.getTime());
  };
  const c = { opens: granted('opens'), clicks: granted('clicks') };
  return c.opens || c.clicks ? Object.freeze(c) : NO_CONSENT;
}

function groupByAddress(events: readonly ConsentEvent[]): Map<string, ConsentEvent[]> {
  const out = new Map<string, ConsentEvent[]>();
  for (const e of events) {
    const list = out.get(e.address);
    if (list) list.push(e);
    else out.set(e.address, [e]);
  }
  return out;
}

function toEvent(r: EventRow): ConsentEvent {
  return {
    id: r.id,
    address: r.address,
    action: r.action === 'grant' ? 'grant' : 'withdraw',
    scopes: ALL_SCOPES.filter((s) => r.scopes.split(',').includes(s)),
    source: r.source,
    method: r.method,
    evidence: r.evidence,
    recordedBy: r.recorded_by,
    at: r.at,
    until: r.until,
  };
}

/**
 * Times are stored as `toISOString()` output so that text order is time order (the index and
 * ORDER BY rely on it). A date without a time ("2027-01-01") means midnight UTC.
 */
function isoTime(value: string, name: string): string {
  const ms = Date.parse(value);
  if (!value.trim() || Number.isNaN(ms)) {
    throw new RelayError('USAGE', `"${name}" must be an ISO-8601 date or time such as 2027-01-31 or 2027-01-31T12:00:00Z, not "${value}"`);
  }
  return new Date(ms).toISOString();
}
