/**
 * Who a link is about: tokens carry the recipient's keyed hash (the audit log's, src/audit/keys.ts),
 * and this table (`<dataDir>/web.db`, 0600) maps it back to the address when the person acts on
 * the link. A row is written when a link is made for an address. Erasing a person deletes their
 * row here as in the audit log's `subjects`: their links then verify but name no one, and the
 * pages say the link no longer works.
 */
import type { Statement } from 'better-sqlite3';

import { loadAuditKey, recipientHash, type AuditKey } from '../audit/keys.js';
import { normaliseAddress } from '../consent/address.js';
import { guarded, openDatabase, type Migration, type SqliteDatabase } from '../store/sqlite.js';

export const WEB_DB_FILE = 'web.db';

const MIGRATIONS: readonly Migration[] = [
  {
    description: 'link subjects: recipient hash -> address',
    sql: `CREATE TABLE link_subjects (
      recipient_hash TEXT PRIMARY KEY CHECK (length(recipient_hash) = 64),
      address        TEXT NOT NULL
    ) WITHOUT ROWID;`,
  },
];

export class LinkSubjects {
  private readonly db: SqliteDatabase;
  private readonly key: AuditKey;
  private readonly recent = new Map<string, string>();
  private readonly insertStmt: Statement<[string, string]>;
  private readonly getStmt: Statement<[string], { address: string }>;

  constructor(dataDir: string) {
    this.key = loadAuditKey(dataDir);
    this.db = openDatabase({ dataDir, fileName: WEB_DB_FILE, code: 'CONSENT_STORE_UNAVAILABLE', label: 'link subjects', migrations: MIGRATIONS });
    this.insertStmt = this.db.prepare('INSERT INTO link_subjects (recipient_hash, address) VALUES (?, ?) ON CONFLICT DO NOTHING');
    this.getStmt = this.db.prepare('SELECT address FROM link_subjects WHERE recipient_hash = ?');
  }

  /** The address's keyed hash, remembered so that a link carrying it can be resolved later. */
  remember(address: string): string {
    const a = normaliseAddress(address);
    const known = this.recent.get(a);
    if (known) return known;
    const hash = recipientHash(this.key, a);
    this.guard(() => this.insertStmt.run(hash, a));
    // a newsletter's 100 gate links for one recipient are one insert (each is a synchronous commit)
    if (this.recent.size >= 10_000) this.recent.clear();
    this.recent.set(a, hash);
    return hash;
  }

  /** The keyed hash of an arbitrary string (evidence: client IP and user agent), never reversible. */
  evidenceHash(text: string): string {
    return this.key.hmac(`evidence\n${text}`);
  }

  resolve(hash: string): string | null {
    return this.guard(() => this.getStmt.get(hash))?.address ?? null;
  }

  /** Erasure: links made for the address then name no one. Returns rows deleted. */
  forget(address: string): number {
    this.recent.delete(normaliseAddress(address));
    return this.guard(() => {
      const n = this.db.prepare('DELETE FROM link_subjects WHERE address = ?').run(normaliseAddress(address)).changes;
      // the deleted row must not stay readable in old WAL frames
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      return n;
    });
  }

  /** Rectification: links made for `from` now resolve to `to`. */
  rectify(from: string, to: string): number {
    this.recent.delete(normaliseAddress(from));
    return this.guard(() => this.db.prepare('UPDATE link_subjects SET address = ? WHERE address = ?').run(normaliseAddress(to), normaliseAddress(from)).changes);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private guard<T>(fn: () => T): T {
    return guarded(fn, 'CONSENT_STORE_UNAVAILABLE', 'link subjects', this.db.name);
  }
}
