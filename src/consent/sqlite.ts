/**
 * The consent store on SQLite: `<dataDir>/consent.db`, an append-only list of consent events from
 * which the current state is derived on every read (decision 7: consent is data with evidence).
 *
 * How records combine (a mailbox's own and its domain's) is derive.ts; this file only stores.
 */
import type { Statement } from 'better-sqlite3';

import { RelayError } from '../errors.js';
import type { Consent } from '../rewrite/types.js';
import { NO_CONSENT } from '../rewrite/types.js';
import { openDatabase, guarded, sqliteError } from '../store/sqlite.js';
import type { Migration, SqliteDatabase } from '../store/sqlite.js';
import { loadAuditKey } from '../audit/keys.js';
import { normaliseAddress, validateAddress, validateConsentKey } from './address.js';
import { combineConsent, domainKey, isDomainKey, scopeStates } from './derive.js';
import { ALL_SCOPES } from './store.js';
import type { ConsentEvent, ConsentScope, ConsentState, ConsentStore, ErasureResult, NewConsentEvent, Objection, PurgeCutoffs } from './store.js';

export const CONSENT_DB_FILE = 'consent.db';

/**
 * Erasure (GDPR art. 17), rectification and retention are the only ways history changes, and
 * each is let through the append-only triggers by a permit row (`consent_permits`) written in the
 * same transaction and deleted before it commits: a stray UPDATE or DELETE still raises. An
 * erasure leaves a row in `consent_erasures` (when, how many events), never whom it concerned.
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
  {
    description: 'wording and import provenance, domain-level records, do-not-contact, erasure and rectification permits',
    sql: `
      DROP TRIGGER consent_events_no_update;
      DROP TRIGGER consent_events_no_delete;
      CREATE TABLE consent_events_v2 (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        address         TEXT NOT NULL CHECK (address = lower(trim(address)) AND (address LIKE '%_@_%' OR (address LIKE '@_%' AND substr(address, 2) NOT LIKE '%@%'))),
        action          TEXT NOT NULL CHECK (action IN ('grant', 'withdraw')),
        scopes          TEXT NOT NULL CHECK (scopes <> ''),
        source          TEXT NOT NULL,
        method          TEXT NOT NULL,
        evidence        TEXT,
        recorded_by     TEXT NOT NULL,
        at              TEXT NOT NULL,
        until           TEXT,
        wording_version TEXT,
        wording_sha256  TEXT CHECK (wording_sha256 IS NULL OR (length(wording_sha256) = 64 AND wording_sha256 NOT GLOB '*[^0-9a-f]*')),
        import_sha256   TEXT CHECK (import_sha256 IS NULL OR (length(import_sha256) = 64 AND import_sha256 NOT GLOB '*[^0-9a-f]*')),
        import_line     INTEGER CHECK (import_line IS NULL OR import_line > 0),
        CHECK (until IS NULL OR action = 'grant')
      );
      INSERT INTO consent_events_v2 (id, address, action, scopes, source, method, evidence, recorded_by, at, until)
        SELECT id, address, action, scopes, source, method, evidence, recorded_by, at, until FROM consent_events;
      DROP TABLE consent_events;
      ALTER TABLE consent_events_v2 RENAME TO consent_events;
      CREATE INDEX consent_events_address ON consent_events (address, at, id);
      CREATE TABLE consent_permits (
        address TEXT NOT NULL,
        op      TEXT NOT NULL CHECK (op IN ('erase', 'rectify', 'purge')),
        PRIMARY KEY (address, op)
      ) WITHOUT ROWID;
      CREATE TABLE consent_erasures (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     TEXT NOT NULL,
        events INTEGER NOT NULL
      );
      CREATE TABLE do_not_contact (
        key_hash    TEXT PRIMARY KEY CHECK (length(key_hash) = 64),
        address     TEXT UNIQUE,
        at          TEXT NOT NULL,
        source      TEXT NOT NULL,
        recorded_by TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
      WHEN NOT (
        NEW.id = OLD.id AND NEW.action IS OLD.action AND NEW.scopes IS OLD.scopes AND NEW.source IS OLD.source
        AND NEW.method IS OLD.method AND NEW.evidence IS OLD.evidence AND NEW.recorded_by IS OLD.recorded_by
        AND NEW.at IS OLD.at AND NEW.until IS OLD.until AND NEW.wording_version IS OLD.wording_version
        AND NEW.wording_sha256 IS OLD.wording_sha256 AND NEW.import_sha256 IS OLD.import_sha256
        AND NEW.import_line IS OLD.import_line
        AND EXISTS (SELECT 1 FROM consent_permits WHERE address = OLD.address AND op = 'rectify')
      )
      BEGIN
        SELECT RAISE(ABORT, 'consent_events is append-only: record a new grant or withdraw event instead of changing history');
      END;
      CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
      WHEN NOT EXISTS (SELECT 1 FROM consent_permits WHERE address = OLD.address AND op IN ('erase', 'purge'))
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
  readonly wording_version: string | null;
  readonly wording_sha256: string | null;
  readonly import_sha256: string | null;
  readonly import_line: number | null;
}

interface ObjectionRow {
  readonly address: string | null;
  readonly at: string;
  readonly source: string;
  readonly recorded_by: string;
}

export interface SqliteConsentStoreOptions {
  /** Lock wait before CONSENT_STORE_UNAVAILABLE; default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** The clock that decides whether a grant has expired; for tests. */
  readonly now?: () => Date;
  /**
   * The keyed hash a do-not-contact record is found by (and all that is left of it after
   * erasure). Default: HMAC-SHA256 under `<dataDir>/audit.key` over "do-not-contact:" + address,
   * a different value from the audit log's recipient hash of the same address.
   */
  readonly suppressionHash?: (address: string) => string;
}

/** Events recorded with `at` further ahead than this are refused: clocks drift, history does not. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;
const SHA256 = /^[0-9a-f]{64}$/;

const COLUMNS = 'id, address, action, scopes, source, method, evidence, recorded_by, at, until, wording_version, wording_sha256, import_sha256, import_line';

type InsertParams = [string, string, string, string, string, string | null, string, string, string | null, string | null, string | null, string | null, number | null];

export class SqliteConsentStore implements ConsentStore {
  readonly file: string;
  private readonly db: SqliteDatabase;
  private readonly now: () => Date;
  private readonly hash: (address: string) => string;
  private readonly insertStmt: Statement<InsertParams, EventRow>;
  private readonly byAddressesStmt: Statement<[string], EventRow>;
  private readonly byAddressStmt: Statement<[string], EventRow>;
  private readonly allStmt: Statement<[], EventRow>;
  private readonly dncStmt: Statement<[string], { key_hash: string }>;

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
      if (options.suppressionHash) this.hash = options.suppressionHash;
      else {
        const key = loadAuditKey(dataDir);
        this.hash = (address) => key.hmac(`do-not-contact:${normaliseAddress(address)}`);
      }
      this.insertStmt = this.db.prepare(
        `INSERT INTO consent_events (address, action, scopes, source, method, evidence, recorded_by, at, until, wording_version, wording_sha256, import_sha256, import_line)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
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
      this.dncStmt = this.db.prepare('SELECT key_hash FROM do_not_contact WHERE key_hash IN (SELECT value FROM json_each(?))');
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
   * and gets NO_CONSENT rather than failing the whole lookup. Each address's domain record is
   * read in the same query.
   */
  async lookup(addresses: readonly string[]): Promise<Map<string, Consent>> {
    const keys = [...new Set(addresses.map(normaliseAddress))];
    const out = new Map<string, Consent>(keys.map((k) => [k, NO_CONSENT]));
    if (!keys.length) return out;
    const wanted = new Set(keys);
    for (const k of keys) {
      const d = domainKey(k);
      if (d) wanted.add(d);
    }
    const rows = this.guard(() => this.byAddressesStmt.all(JSON.stringify([...wanted])));
    const byKey = groupByAddress(rows.map(toEvent));
    const now = this.now();
    for (const k of keys) {
      const own = byKey.get(k) ?? [];
      const d = domainKey(k);
      const domain = d ? (byKey.get(d) ?? []) : [];
      if (own.length || domain.length) out.set(k, combineConsent([own, domain], now));
    }
    return out;
  }

  async record(event: NewConsentEvent): Promise<ConsentEvent> {
    const [e] = await this.recordMany([event]);
    if (!e) throw new RelayError('CONSENT_STORE_UNAVAILABLE', `consent store ${this.file}: insert returned no row`);
    return e;
  }

  /** Validates every event first (a USAGE error names the first bad one), then inserts all in one transaction. */
  async recordMany(events: readonly NewConsentEvent[]): Promise<ConsentEvent[]> {
    const valid = events.map((e) => this.validate(e));
    const insert = this.db.transaction((list: readonly Omit<ConsentEvent, 'id'>[]) =>
      list.map((e) => {
        const row = this.insertStmt.get(
          e.address,
          e.action,
          e.scopes.join(','),
          e.source,
          e.method,
          e.evidence,
          e.recordedBy,
          e.at,
          e.until,
          e.wordingVersion,
          e.wordingSha256,
          e.importSha256,
          e.importLine,
        );
        if (!row) throw new RelayError('CONSENT_STORE_UNAVAILABLE', `consent store ${this.file}: insert returned no row`);
        return toEvent(row);
      }),
    );
    return this.guard(() => insert.immediate(valid));
  }

  async show(address: string): Promise<ConsentState> {
    const key = validateConsentKey(address);
    const history = this.guard(() => this.byAddressStmt.all(key)).map(toEvent);
    const d = domainKey(key);
    const domainHistory = d ? this.guard(() => this.byAddressStmt.all(d)).map(toEvent) : [];
    return { address: key, consent: combineConsent([history, domainHistory], this.now()), history, domainHistory };
  }

  /** Every address (and "@domain") that has at least one event, in key order. */
  async list(): Promise<ConsentState[]> {
    const rows = this.guard(() => this.allStmt.all()).map(toEvent);
    const now = this.now();
    const byKey = groupByAddress(rows);
    return [...byKey].map(([address, history]) => {
      const d = domainKey(address);
      const domainHistory = d ? (byKey.get(d) ?? []) : [];
      return { address, consent: combineConsent([history, domainHistory], now), history, domainHistory };
    });
  }

  async doNotContact(addresses: readonly string[]): Promise<Set<string>> {
    const keys = [...new Set(addresses.map(normaliseAddress))].filter((k) => k && !isDomainKey(k));
    if (!keys.length) return new Set();
    const byHash = new Map(keys.map((k) => [this.hash(k), k]));
    const rows = this.guard(() => this.dncStmt.all(JSON.stringify([...byHash.keys()])));
    return new Set(rows.map((r) => byHash.get(r.key_hash)).filter((k): k is string => k !== undefined));
  }

  async object(address: string, source: string, recordedBy: string): Promise<Objection> {
    const key = validateAddress(address);
    const at = this.now().toISOString();
    this.guard(() =>
      this.db
        .prepare('INSERT INTO do_not_contact (key_hash, address, at, source, recorded_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(this.hash(key), key, at, source.trim() || 'objection', recordedBy.trim() || 'unknown'),
    );
    const o = await this.objection(key);
    if (!o) throw new RelayError('CONSENT_STORE_UNAVAILABLE', `consent store ${this.file}: objection not stored`);
    return o;
  }

  async objection(address: string): Promise<Objection | null> {
    const key = normaliseAddress(address);
    const row = this.guard(() => this.db.prepare<[string], ObjectionRow>('SELECT address, at, source, recorded_by FROM do_not_contact WHERE key_hash = ?').get(this.hash(key)));
    return row ? { address: row.address, at: row.at, source: row.source, recordedBy: row.recorded_by } : null;
  }

  async erase(address: string): Promise<ErasureResult> {
    const key = validateAddress(address);
    const run = this.db.transaction((): ErasureResult => {
      this.db.prepare("INSERT INTO consent_permits (address, op) VALUES (?, 'erase')").run(key);
      const deleted = this.db.prepare('DELETE FROM consent_events WHERE address = ?').run(key).changes;
      this.db.prepare("DELETE FROM consent_permits WHERE address = ? AND op = 'erase'").run(key);
      // the objection outlives the person's data, but only as the keyed hash: free text an
      // operator typed ("asked by phone, Alice Smith") goes with the address
      const kept = this.db.prepare("UPDATE do_not_contact SET address = NULL, source = 'erased' WHERE key_hash = ?").run(this.hash(key)).changes > 0;
      this.db.prepare('INSERT INTO consent_erasures (at, events) VALUES (?, ?)').run(this.now().toISOString(), deleted);
      return { consentEvents: deleted, suppressionKept: kept };
    });
    return this.guard(() => {
      const r = run.immediate();
      // old WAL frames still hold the deleted rows: copy back and empty the WAL (see audit/sqlite.ts scrub)
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      return r;
    });
  }

  async rectify(from: string, to: string): Promise<number> {
    const old = validateAddress(from);
    const now = validateAddress(to);
    if (old === now) throw new RelayError('USAGE', `the old and the new address are the same (${now})`);
    const run = this.db.transaction((): number => {
      this.db.prepare("INSERT INTO consent_permits (address, op) VALUES (?, 'rectify')").run(old);
      const moved = this.db.prepare('UPDATE consent_events SET address = ? WHERE address = ?').run(now, old).changes;
      this.db.prepare("DELETE FROM consent_permits WHERE address = ? AND op = 'rectify'").run(old);
      const dnc = this.db.prepare<[string], ObjectionRow & { key_hash: string }>('SELECT key_hash, address, at, source, recorded_by FROM do_not_contact WHERE key_hash = ?').get(this.hash(old));
      if (dnc) {
        this.db.prepare('DELETE FROM do_not_contact WHERE key_hash = ?').run(dnc.key_hash);
        this.db
          .prepare('INSERT INTO do_not_contact (key_hash, address, at, source, recorded_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
          .run(this.hash(now), now, dnc.at, dnc.source, dnc.recorded_by);
      }
      return moved;
    });
    return this.guard(() => run.immediate());
  }

  /**
   * Retention of consent history: a key's whole history goes once its latest event is older than
   * the cutoff and none of it is in force (a grant still relied on is proof still needed).
   */
  async purge(cutoffs: PurgeCutoffs): Promise<{ consentEvents: number }> {
    const before = cutoffs.consentHistoryBefore;
    if (before === undefined) return { consentEvents: 0 };
    const now = this.now();
    const run = this.db.transaction((): number => {
      const stale = this.db
        .prepare<[string], { address: string }>('SELECT address FROM consent_events GROUP BY address HAVING max(at) < ?')
        .all(before)
        .map((r) => r.address);
      let deleted = 0;
      for (const key of stale) {
        const history = this.byAddressStmt.all(key).map(toEvent);
        const st = scopeStates(history, now);
        if (st.opens === 'granted' || st.clicks === 'granted') continue;
        this.db.prepare("INSERT INTO consent_permits (address, op) VALUES (?, 'purge')").run(key);
        deleted += this.db.prepare('DELETE FROM consent_events WHERE address = ?').run(key).changes;
        this.db.prepare("DELETE FROM consent_permits WHERE address = ? AND op = 'purge'").run(key);
      }
      return deleted;
    });
    return { consentEvents: this.guard(() => run.immediate()) };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private validate(event: NewConsentEvent): Omit<ConsentEvent, 'id'> {
    const usage = (msg: string): never => {
      throw new RelayError('USAGE', msg);
    };
    const address = validateConsentKey(event.address);
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
    const sha = (v: string | null | undefined, name: string): string | null => {
      if (v === undefined || v === null || v.trim() === '') return null;
      const h = v.trim().toLowerCase();
      if (!SHA256.test(h)) usage(`${name} must be a SHA-256 in hex (64 characters 0-9a-f), not "${v}"`);
      return h;
    };
    const wordingSha256 = sha(event.wordingSha256, 'the wording hash');
    const wordingVersion = event.wordingVersion?.trim() || null;
    if (wordingSha256 && !wordingVersion) usage('a wording hash needs the wording version it belongs to');
    const importLine = event.importLine ?? null;
    if (importLine !== null && (!Number.isSafeInteger(importLine) || importLine < 1)) usage(`import line must be a positive whole number, not ${importLine}`);
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
      wordingVersion,
      wordingSha256,
      importSha256: sha(event.importSha256, 'the import file hash'),
      importLine,
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
    wordingVersion: r.wording_version,
    wordingSha256: r.wording_sha256,
    importSha256: r.import_sha256,
    importLine: r.import_line,
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
