/**
 * The audit log on SQLite: `<dataDir>/audit.db`, keyed by `<dataDir>/audit.key`.
 *
 * Three tables, split so that erasure is a one-row delete: `audit_events` (one row per event,
 * details as JSON), `event_recipients` (event → recipient hash) and `subjects` (hash → address).
 * Deleting a person's `subjects` row leaves their events counted and attributable to "one
 * recipient" but no longer to them. Events are never updated (triggers); deleting old events for
 * retention is left possible on purpose.
 */
import { randomBytes } from 'node:crypto';

import type { Statement } from 'better-sqlite3';

import { RelayError } from '../errors.js';
import { normaliseAddress } from '../consent/address.js';
import { openDatabase, guarded, sqliteError } from '../store/sqlite.js';
import type { Migration, SqliteDatabase } from '../store/sqlite.js';
import { auditEventSchema } from './events.js';
import type { AuditEvent } from './events.js';
import { entryOf, loadChainKey, nextLink } from './chain.js';
import type { ChainEntry, ChainHead, ChainKey, ChainStore, StoredChainRow } from './chain.js';
import { loadAuditKey } from './keys.js';
import { verifyChain } from './verify.js';
import type { ChainReport, CheckpointClaim } from './verify.js';
import type { AuditLog, AuditQuery, AuditRow } from './log.js';
import { redactText, redactUrl } from './redact.js';

export const AUDIT_DB_FILE = 'audit.db';

const MIGRATIONS: readonly Migration[] = [
  {
    description: 'events, recipients by hash, subjects',
    sql: `
      CREATE TABLE audit_events (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        type          TEXT NOT NULL,
        at            TEXT NOT NULL,
        queue_id      TEXT NOT NULL,
        sender        TEXT,
        consent_class TEXT NOT NULL,
        details       TEXT NOT NULL CHECK (json_valid(details))
      );
      CREATE INDEX audit_events_at ON audit_events (at);
      CREATE INDEX audit_events_queue ON audit_events (queue_id);
      CREATE INDEX audit_events_sender ON audit_events (sender) WHERE sender IS NOT NULL;
      CREATE TABLE event_recipients (
        event_id       INTEGER NOT NULL REFERENCES audit_events (id) ON DELETE CASCADE,
        recipient_hash TEXT NOT NULL,
        PRIMARY KEY (event_id, recipient_hash)
      ) WITHOUT ROWID;
      CREATE INDEX event_recipients_hash ON event_recipients (recipient_hash, event_id);
      CREATE TABLE subjects (
        recipient_hash TEXT PRIMARY KEY,
        address        TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
      BEGIN
        SELECT RAISE(ABORT, 'audit_events is append-only');
      END;
      CREATE TRIGGER event_recipients_no_update BEFORE UPDATE ON event_recipients
      BEGIN
        SELECT RAISE(ABORT, 'event_recipients is append-only');
      END;
    `,
  },
  {
    // see chain.ts: rows before this step stay unchained (verify counts them apart)
    description: 'audit chain: sequence number, MACs, keyed sender hash',
    sql: `
      ALTER TABLE audit_events ADD COLUMN seq INTEGER;
      ALTER TABLE audit_events ADD COLUMN prev_mac TEXT;
      ALTER TABLE audit_events ADD COLUMN mac TEXT;
      ALTER TABLE audit_events ADD COLUMN sender_hash TEXT;
      CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq) WHERE seq IS NOT NULL;
      DROP TRIGGER audit_events_no_update;
      -- the one change allowed: forgetting a clear sender (erasure); its keyed hash stays chained
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
      WHEN NOT (NEW.sender IS NULL AND NEW.id IS OLD.id AND NEW.type IS OLD.type AND NEW.at IS OLD.at
                AND NEW.queue_id IS OLD.queue_id AND NEW.consent_class IS OLD.consent_class
                AND NEW.details IS OLD.details AND NEW.seq IS OLD.seq AND NEW.prev_mac IS OLD.prev_mac
                AND NEW.mac IS OLD.mac AND NEW.sender_hash IS OLD.sender_hash)
      BEGIN
        SELECT RAISE(ABORT, 'audit_events is append-only');
      END;
    `,
  },
  {
    // rectification: a sender's clear address follows the person to their new address, and only
    // to an address that stands for the same chained sender pseudonym (rectify renames the
    // `subjects` row first); verify checks the same thing from the other side
    description: 'audit chain: the clear sender may be forgotten, or rectified to the same pseudonym',
    sql: `
      DROP TRIGGER audit_events_no_update;
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
      WHEN NOT ((NEW.sender IS NULL
                 OR (OLD.sender_hash IS NOT NULL
                     AND (SELECT recipient_hash FROM subjects WHERE address = NEW.sender) IS OLD.sender_hash))
                AND NEW.id IS OLD.id AND NEW.type IS OLD.type AND NEW.at IS OLD.at
                AND NEW.queue_id IS OLD.queue_id AND NEW.consent_class IS OLD.consent_class
                AND NEW.details IS OLD.details AND NEW.seq IS OLD.seq AND NEW.prev_mac IS OLD.prev_mac
                AND NEW.mac IS OLD.mac AND NEW.sender_hash IS OLD.sender_hash)
      BEGIN
        SELECT RAISE(ABORT, 'audit_events is append-only');
      END;
    `,
  },
];

interface EventRowDb {
  readonly id: number;
  readonly type: string;
  readonly at: string;
  readonly queue_id: string;
  readonly consent_class: string;
  readonly details: string;
  readonly sender: string | null;
  readonly hashes: string | null;
}

interface ChainRowDb extends EventRowDb {
  readonly sender_hash: string | null;
  readonly seq: number | null;
  readonly prev_mac: string | null;
  readonly mac: string | null;
}

const ROW_COLUMNS = `e.id, e.type, e.at, e.queue_id, e.consent_class, e.details, e.sender,
  (SELECT group_concat(r.recipient_hash, ' ') FROM event_recipients r WHERE r.event_id = e.id) AS hashes`;

export interface SqliteAuditLogOptions {
  readonly busyTimeoutMs?: number;
}

export class SqliteAuditLog implements AuditLog, ChainStore {
  readonly file: string;
  private readonly db: SqliteDatabase;
  private readonly chainKey: ChainKey;
  private readonly insertEvent: Statement<[string, string, string, string | null, string, string, string | null, number, string, string], { id: number }>;
  private readonly selectHead: Statement<[], ChainHead>;
  private readonly insertRecipient: Statement<[number, string]>;
  private readonly insertSubject: Statement<[string, string]>;

  /** Opens (creating the database and the key if needed). Throws RelayError AUDIT_UNAVAILABLE. */
  constructor(dataDir: string, options: SqliteAuditLogOptions = {}) {
    // Nothing here hashes with the audit key, but opening the log still creates it and fails at
    // start if it is unreadable (this constructor's contract); the consent store and the web pages
    // hash with it.
    loadAuditKey(dataDir);
    this.chainKey = loadChainKey(dataDir);
    this.db = openDatabase({
      dataDir,
      fileName: AUDIT_DB_FILE,
      code: 'AUDIT_UNAVAILABLE',
      label: 'audit log',
      migrations: MIGRATIONS,
      ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    });
    this.file = this.db.name;
    try {
      this.insertEvent = this.db.prepare(
        'INSERT INTO audit_events (type, at, queue_id, sender, consent_class, details, sender_hash, seq, prev_mac, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
      );
      this.selectHead = this.db.prepare('SELECT seq, mac FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1');
      this.insertRecipient = this.db.prepare('INSERT OR IGNORE INTO event_recipients (event_id, recipient_hash) VALUES (?, ?)');
      this.insertSubject = this.db.prepare('INSERT INTO subjects (recipient_hash, address) VALUES (?, ?) ON CONFLICT DO NOTHING');
      // one pseudonym per address (AuditLog.recipientHash); rows written when hashes were HMACs
      // already have one address each, so this holds for old files too
      this.db.exec('CREATE UNIQUE INDEX IF NOT EXISTS subjects_address ON subjects (address)');
    } catch (err) {
      this.db.close();
      throw this.fail(err);
    }
  }

  static async open(dataDir: string, options: SqliteAuditLogOptions = {}): Promise<SqliteAuditLog> {
    return new SqliteAuditLog(dataDir, options);
  }

  recipientHash(address: string): string {
    const a = normaliseAddress(address);
    const known = this.subjectHash(a);
    if (known !== null) return known;
    // random, not HMAC(address): see AuditLog.recipientHash. The unique address index makes two
    // processes racing here agree on the first one's pseudonym.
    this.guard(() => this.insertSubject.run(randomBytes(32).toString('hex'), a));
    const made = this.subjectHash(a);
    if (made === null) throw new RelayError('AUDIT_UNAVAILABLE', `audit log ${this.file}: subject row not stored`);
    return made;
  }

  subjectHash(address: string): string | null {
    return this.guard(() => this.db.prepare<[string], { recipient_hash: string }>('SELECT recipient_hash FROM subjects WHERE address = ?').get(normaliseAddress(address)))?.recipient_hash ?? null;
  }

  /**
   * Erasure: the subject row goes (events keep the pseudonym, which now stands for no one) and so
   * does the clear sender of events the person sent (its keyed hash stays chained); then freed
   * pages and old WAL frames are scrubbed.
   */
  async forget(address: string): Promise<{ known: boolean; events: number }> {
    const a = normaliseAddress(address);
    const run = this.db.transaction(() => {
      this.db.prepare('UPDATE audit_events SET sender = NULL WHERE sender = ?').run(a);
      const hash = this.db.prepare<[string], { recipient_hash: string }>('SELECT recipient_hash FROM subjects WHERE address = ?').get(a)?.recipient_hash;
      if (hash === undefined) return { known: false, events: 0 };
      const events = this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM event_recipients WHERE recipient_hash = ?').get(hash)?.n ?? 0;
      this.db.prepare('DELETE FROM subjects WHERE address = ?').run(a);
      return { known: true, events };
    });
    return this.guard(() => {
      const r = run.immediate();
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      return r;
    });
  }

  async rectify(from: string, to: string): Promise<boolean> {
    const a = normaliseAddress(from);
    const b = normaliseAddress(to);
    const run = this.db.transaction((): boolean => {
      if (this.db.prepare('SELECT 1 FROM subjects WHERE address = ?').get(b) !== undefined) {
        throw new RelayError('USAGE', 'the new address already has audit history of its own; the two histories cannot be joined under one pseudonym (export both with subject export instead)');
      }
      const renamed = this.db.prepare('UPDATE subjects SET address = ? WHERE address = ?').run(b, a).changes > 0;
      // mail the person sent follows them too; left as it was, verify would find a clear sender
      // that no longer maps to the chained sender hash and report it as edited
      const resent = this.db.prepare('UPDATE audit_events SET sender = ? WHERE sender = ?').run(b, a).changes > 0;
      return renamed || resent;
    });
    return this.guard(() => run.immediate());
  }

  /**
   * Retention. Only a prefix of the chain can go: the chained events before the first one at or
   * after `eventsBefore` (by sequence), announced first by a retention-purged event carrying the
   * last purged MAC, which is what `audit verify` accepts the gap by. Unchained rows from before
   * the chain go by time. Addresses no event since `addressesUnusedSince` mentions are forgotten.
   */
  async purge(cutoffs: { readonly eventsBefore?: string; readonly addressesUnusedSince?: string }): Promise<{ events: number; addresses: number }> {
    let events = 0;
    if (cutoffs.eventsBefore !== undefined) {
      const before = isoTime(cutoffs.eventsBefore, 'eventsBefore');
      const boundary = this.guard(() => this.db.prepare<[string], { s: number | null }>('SELECT min(seq) AS s FROM audit_events WHERE seq IS NOT NULL AND at >= ?').get(before))?.s ?? null;
      const last = this.guard(() =>
        boundary === null
          ? this.db.prepare<[], { seq: number; mac: string }>('SELECT seq, mac FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1').get()
          : this.db.prepare<[number], { seq: number; mac: string }>('SELECT seq, mac FROM audit_events WHERE seq = ?').get(boundary - 1),
      );
      const old =
        this.guard(() => this.db.prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM audit_events WHERE (seq IS NULL AND at < ?) OR seq <= ?').get(before, last?.seq ?? 0))?.n ?? 0;
      if (old > 0) {
        if (last) {
          await this.append([
            { type: 'retention-purged', at: new Date().toISOString(), queueId: '', consentClass: '', recipientHashes: [], before, throughSeq: last.seq, throughMac: last.mac, events: old },
          ]);
        }
        events = this.guard(() => this.db.prepare('DELETE FROM audit_events WHERE (seq IS NULL AND at < ?) OR seq <= ?').run(before, last?.seq ?? 0).changes);
      }
    }
    let addresses = 0;
    if (cutoffs.addressesUnusedSince !== undefined) {
      const since = isoTime(cutoffs.addressesUnusedSince, 'addressesUnusedSince');
      const run = this.db.transaction((): number => {
        const unused = this.db
          .prepare<[string, string], { recipient_hash: string }>(
            `SELECT recipient_hash FROM subjects WHERE NOT EXISTS (
               SELECT 1 FROM event_recipients r JOIN audit_events e ON e.id = r.event_id
               WHERE r.recipient_hash = subjects.recipient_hash AND e.at >= ?)
             AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.sender_hash = subjects.recipient_hash AND e.at >= ?)`,
          )
          .all(since, since)
          .map((r) => r.recipient_hash);
        const list = JSON.stringify(unused);
        // a clear sender whose pseudonym goes must go too (verify matches the two)
        this.db.prepare('UPDATE audit_events SET sender = NULL WHERE sender_hash IN (SELECT value FROM json_each(?)) AND sender IS NOT NULL').run(list);
        return this.db.prepare('DELETE FROM subjects WHERE recipient_hash IN (SELECT value FROM json_each(?))').run(list).changes;
      });
      addresses = this.guard(() => run.immediate());
    }
    return { events, addresses };
  }

  async append(events: readonly AuditEvent[], subjects: readonly string[] = []): Promise<void> {
    const clean = events.map(sanitise);
    const entries = clean.map((e) => entryOf(e, (a) => this.recipientHash(a)));
    const write = this.db.transaction(() => {
      // the head is read inside the IMMEDIATE transaction: another process appending (the CLI
      // while the relay serves) is serialised by SQLite's write lock, so links never fork
      let head: ChainHead | null = this.selectHead.get() ?? null;
      clean.forEach((e, i) => {
        const entry = entries[i]!;
        const link = nextLink(this.chainKey, head, entry);
        head = link;
        const sender = e.type === 'relayed' ? normaliseAddress(e.sender) : null;
        const row = this.insertEvent.get(e.type, e.at, e.queueId, sender, e.consentClass, JSON.stringify(entry.details), entry.senderHash, link.seq, link.prevMac, link.mac);
        if (!row) throw new RelayError('AUDIT_UNAVAILABLE', `audit log ${this.file}: insert returned no row`);
        for (const h of entry.recipientHashes) this.insertRecipient.run(row.id, h);
      });
      for (const a of new Set(subjects.map(normaliseAddress))) if (a) this.insertSubject.run(this.recipientHash(a), a);
    });
    this.guard(() => write.immediate());
  }

  async list(query: AuditQuery = {}): Promise<AuditRow[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.since !== undefined) {
      where.push('e.at >= ?');
      params.push(isoTime(query.since, 'since'));
    }
    if (query.until !== undefined) {
      where.push('e.at < ?');
      params.push(isoTime(query.until, 'until'));
    }
    if (query.queueId !== undefined) {
      where.push('e.queue_id = ?');
      params.push(query.queueId);
    }
    if (query.type !== undefined) {
      where.push('e.type = ?');
      params.push(query.type);
    }
    if (query.recipient !== undefined) {
      where.push('e.id IN (SELECT event_id FROM event_recipients WHERE recipient_hash = ?)');
      // an unknown (or erased) address has no pseudonym, hence no events
      params.push(this.subjectHash(query.recipient) ?? '-');
    }
    if (query.sender !== undefined) {
      // findings and outcomes carry no sender: they belong to the sender's message by queue id
      where.push('e.queue_id IN (SELECT queue_id FROM audit_events WHERE sender = ?)');
      params.push(normaliseAddress(query.sender));
    }
    let limit = '';
    if (query.limit !== undefined) {
      if (!Number.isInteger(query.limit) || query.limit < 1) throw new RelayError('USAGE', `limit must be a positive whole number, not ${query.limit}`);
      limit = 'LIMIT ?';
      params.push(query.limit);
    }
    // newest first so LIMIT keeps the most recent rows; reversed below to read in order
    const sql = `SELECT ${ROW_COLUMNS}
                 FROM audit_events e
                 ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY e.id DESC ${limit}`;
    const rows = this.guard(() => this.db.prepare<(string | number)[], EventRowDb>(sql).all(...params));
    return rows.reverse().map((r) => this.toRow(r));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** `audit verify`: the chain checked with this log's keys (verify.ts). */
  async verify(checkpoint?: CheckpointClaim): Promise<ChainReport> {
    return verifyChain(this.readChain(), { chainKey: this.chainKey, hashAddress: (a) => this.subjectHash(a) ?? '' }, checkpoint);
  }

  async chainHead(): Promise<ChainHead | null> {
    return this.guard(() => this.selectHead.get() ?? null);
  }

  async *readChain(): AsyncIterable<StoredChainRow> {
    // pages of rows, so that a long log is not held in memory and no statement stays open across awaits
    let after = 0;
    for (;;) {
      const page = this.guard(() =>
        this.db.prepare<[number], ChainRowDb>(`SELECT ${ROW_COLUMNS}, e.sender_hash, e.seq, e.prev_mac, e.mac FROM audit_events e WHERE e.id > ? ORDER BY e.id LIMIT 5000`).all(after),
      );
      if (!page.length) return;
      for (const r of page) yield chainRow(r);
      after = page[page.length - 1]!.id;
    }
  }

  private toRow(r: EventRowDb): AuditRow {
    let details: unknown;
    try {
      details = JSON.parse(r.details) as unknown;
    } catch {
      details = null;
    }
    const parsed = auditEventSchema.safeParse({
      // chained rows keep the sender in its column only (null once erased); older ones in details too
      ...(r.type === 'relayed' ? { sender: r.sender ?? ERASED_SENDER } : {}),
      ...(typeof details === 'object' && details !== null ? details : {}),
      type: r.type,
      at: r.at,
      queueId: r.queue_id,
      consentClass: r.consent_class,
      recipientHashes: r.hashes ? r.hashes.split(' ').sort() : [],
    });
    if (!parsed.success) {
      throw new RelayError(
        'AUDIT_UNAVAILABLE',
        `audit log ${this.file}: row ${r.id} does not match the audit event schema (written by a newer version, or damaged): ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    return { ...parsed.data, id: r.id };
  }

  private guard<T>(fn: () => T): T {
    return guarded(fn, 'AUDIT_UNAVAILABLE', 'audit log', this.file);
  }

  private fail(err: unknown): RelayError {
    return sqliteError(err, 'AUDIT_UNAVAILABLE', 'audit log', this.file);
  }
}

/** What `sender` reads as once a chained row's clear sender was erased. */
const ERASED_SENDER = '(erased)';

function chainRow(r: ChainRowDb): StoredChainRow {
  let details: unknown;
  try {
    details = JSON.parse(r.details) as unknown;
  } catch {
    details = undefined;
  }
  const entry: ChainEntry | null =
    typeof details === 'object' && details !== null && !Array.isArray(details)
      ? {
          type: r.type,
          at: r.at,
          queueId: r.queue_id,
          consentClass: r.consent_class,
          recipientHashes: r.hashes ? r.hashes.split(' ').sort() : [],
          senderHash: r.sender_hash,
          details: details as Record<string, unknown>,
        }
      : null;
  const link = r.seq === null && r.mac === null && r.prev_mac === null ? null : { seq: r.seq ?? -1, prevMac: r.prev_mac ?? '', mac: r.mac ?? '' };
  return { position: r.id, link, entry, sender: r.sender };
}

/**
 * Last line of defence for decision 8: whatever a caller hands in, the URL is redacted (redactUrl
 * is idempotent) and free text loses anything address-shaped. A malformed event is a bug in the
 * caller, reported rather than half-stored.
 */
function sanitise(event: AuditEvent): AuditEvent {
  const parsed = auditEventSchema.safeParse(event);
  if (!parsed.success) {
    throw new RelayError(
      'AUDIT_UNAVAILABLE',
      `audit event of type "${String((event as { type?: unknown }).type)}" rejected: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const e = parsed.data;
  const at = isoTime(e.at, 'at');
  const recipientHashes = [...new Set(e.recipientHashes)].sort();
  switch (e.type) {
    case 'relayed':
      return { ...e, at, recipientHashes, upstream: redactText(e.upstream), ...(e.mailer ? { mailer: redactText(e.mailer) } : {}) };
    case 'finding':
      return { ...e, at, recipientHashes, redactedUrl: redactUrl(e.redactedUrl), ...(e.note ? { note: redactText(e.note) } : {}) };
    case 'campaign-template':
      // a shape, but text from outside all the same: nothing address-shaped gets in
      return { ...e, at, recipientHashes, host: redactText(e.host), pathShape: redactText(e.pathShape) };
    case 'rejected':
      return { ...e, at, recipientHashes, reason: redactText(e.reason), ...(e.upstream === undefined ? {} : { upstream: redactText(e.upstream) }) };
    case 'relay-started':
    case 'retention-purged':
    case 'do-not-contact':
    case 'spool-refiltered':
      return { ...e, at, recipientHashes };
    case 'consent-changed':
      return { ...e, at, recipientHashes, method: redactText(e.method), ...(e.domain === undefined ? {} : { domain: redactText(e.domain) }) };
    case 'subject-request':
      return { ...e, at, recipientHashes, receipt: redactText(e.receipt) };
    default:
      return { ...e, at, recipientHashes, upstream: redactText(e.upstream) };
  }
}

/** Stored as toISOString() so that text order is time order. */
function isoTime(value: string, name: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new RelayError('USAGE', `"${name}" must be an ISO-8601 date or time such as 2026-10-01 or 2026-10-01T12:00:00Z, not "${value}"`);
  return new Date(ms).toISOString();
}
