/**
 * The campaign store on SQLite: `<dataDir>/campaigns.db` (mode 0600, as openDatabase makes every store), or an in-memory database for
 * `scan --campaign`. Values are written only as HMAC-SHA256 under a random per-store key: the
 * hashes just have to say "same" or "different" within this store, and keyed they match no other
 * installation's and no precomputed table. The key lives in the same file, so what protects the
 * hashes is mode 0600 and expiry after the window. Never written: raw URL values, recipient
 * addresses, subjects, senders (the campaign key is hashed too).
 */
import { createHmac, randomBytes } from 'node:crypto';

import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';

import { guarded, migrate, openDatabase, sqliteError } from '../store/sqlite.js';
import type { Migration, SqliteDatabase } from '../store/sqlite.js';
import { DEFAULT_CAMPAIGN_LIMITS, isVarying, slotKey } from './store.js';
import type { CampaignLimits, CampaignState, CampaignStore, CopyObservation, Position, VaryingPosition } from './store.js';

export const CAMPAIGN_DB_FILE = 'campaigns.db';
const LABEL = 'campaign store';

/** Distinct value hashes kept per position: enough to see repeats among the recent copies. */
const SKETCH_SIZE = 16;
/** Copy fingerprints kept per campaign, to count a copy filtered twice (two consent classes, a retry) once. */
const MAX_FINGERPRINTS = 256;

const MIGRATIONS: readonly Migration[] = [
  {
    description: 'campaigns, copy fingerprints, per-position value sketches',
    sql: `
      CREATE TABLE store_key (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        key BLOB NOT NULL CHECK (length(key) = 32)
      );
      CREATE TABLE campaigns (
        id         TEXT PRIMARY KEY,
        copies     INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX campaigns_last_seen ON campaigns (last_seen);
      CREATE TABLE campaign_copies (
        campaign    TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        seen        INTEGER NOT NULL,
        PRIMARY KEY (campaign, fingerprint)
      ) WITHOUT ROWID;
      CREATE TABLE campaign_slots (
        campaign  TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        slot      TEXT NOT NULL,
        position  TEXT NOT NULL,
        copies    INTEGER NOT NULL,
        distinct_values INTEGER NOT NULL,
        repeats   INTEGER NOT NULL,
        hashes    TEXT NOT NULL,
        PRIMARY KEY (campaign, slot, position)
      ) WITHOUT ROWID;
    `,
  },
];

interface SlotRow {
  readonly slot: string;
  readonly position: string;
  readonly copies: number;
  readonly distinct_values: number;
  readonly repeats: number;
  readonly hashes: string;
}

export interface SqliteCampaignStoreOptions {
  readonly limits?: Partial<CampaignLimits>;
  readonly busyTimeoutMs?: number;
}

export class SqliteCampaignStore implements CampaignStore {
  readonly file: string;
  readonly limits: CampaignLimits;
  private readonly db: SqliteDatabase;
  private readonly key: Buffer;
  private readonly stmts: {
    expire: Statement<[number]>;
    count: Statement<[], { n: number }>;
    evict: Statement<[number]>;
    campaign: Statement<[string], { copies: number }>;
    insertCampaign: Statement<[string, number, number]>;
    touch: Statement<[number, number, string]>;
    fingerprint: Statement<[string, string], { seen: number }>;
    insertFingerprint: Statement<[string, string, number]>;
    trimFingerprints: Statement<[string, string, number]>;
    slots: Statement<[string], SlotRow>;
    upsertSlot: Statement<[string, string, string, number, number, number, string]>;
  };

  /**
   * `dataDir` null: an in-memory store (scan --campaign), gone when closed.
   * Throws RelayError CAMPAIGN_STORE_UNAVAILABLE.
   */
  constructor(dataDir: string | null, options: SqliteCampaignStoreOptions = {}) {
    this.limits = { ...DEFAULT_CAMPAIGN_LIMITS, ...options.limits };
    if (dataDir === null) {
      this.db = new Database(':memory:');
      this.db.pragma('foreign_keys = ON');
      migrate(this.db, MIGRATIONS, 'CAMPAIGN_STORE_UNAVAILABLE', LABEL, ':memory:');
    } else {
      this.db = openDatabase({
        dataDir,
        fileName: CAMPAIGN_DB_FILE,
        code: 'CAMPAIGN_STORE_UNAVAILABLE',
        label: LABEL,
        migrations: MIGRATIONS,
        ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
      });
    }
    this.file = this.db.name;
    try {
      if (dataDir !== null) {
        // a cache of what was learned: losing the last copies on power loss costs nothing, an
        // fsync per message costs throughput
        this.db.pragma('synchronous = NORMAL');
      }
      this.key = this.loadKey();
      this.stmts = {
        expire: this.db.prepare('DELETE FROM campaigns WHERE last_seen < ?'),
        count: this.db.prepare('SELECT count(*) AS n FROM campaigns'),
        evict: this.db.prepare('DELETE FROM campaigns WHERE id IN (SELECT id FROM campaigns ORDER BY last_seen LIMIT ?)'),
        campaign: this.db.prepare('SELECT copies FROM campaigns WHERE id = ?'),
        insertCampaign: this.db.prepare('INSERT INTO campaigns (id, copies, first_seen, last_seen) VALUES (?, 0, ?, ?)'),
        touch: this.db.prepare('UPDATE campaigns SET copies = copies + ?, last_seen = ? WHERE id = ?'),
        fingerprint: this.db.prepare('SELECT seen FROM campaign_copies WHERE campaign = ? AND fingerprint = ?'),
        insertFingerprint: this.db.prepare('INSERT INTO campaign_copies (campaign, fingerprint, seen) VALUES (?, ?, ?)'),
        trimFingerprints: this.db.prepare(
          'DELETE FROM campaign_copies WHERE campaign = ? AND fingerprint NOT IN (SELECT fingerprint FROM campaign_copies WHERE campaign = ? ORDER BY seen DESC LIMIT ?)',
        ),
        slots: this.db.prepare('SELECT slot, position, copies, distinct_values, repeats, hashes FROM campaign_slots WHERE campaign = ?'),
        upsertSlot: this.db.prepare(
          `INSERT INTO campaign_slots (campaign, slot, position, copies, distinct_values, repeats, hashes) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (campaign, slot, position) DO UPDATE SET copies = excluded.copies, distinct_values = excluded.distinct_values, repeats = excluded.repeats, hashes = excluded.hashes`,
        ),
      };
    } catch (err) {
      this.db.close();
      throw sqliteError(err, 'CAMPAIGN_STORE_UNAVAILABLE', LABEL, this.file);
    }
  }

  async observe(copy: CopyObservation, now: Date = new Date()): Promise<CampaignState> {
    const t = now.getTime();
    const id = this.hmac(`campaign\u0000${copy.campaign}`);
    // the fingerprint covers every value of the copy: the same copy filtered again is not a new recipient
    const fingerprint = this.hmac(`copy\u0000${copy.slots.map((s) => `${slotKey(s.template, s.occurrence)}\u0001${[...s.values].map(([p, v]) => `${p}\u0002${v}`).join('\u0001')}`).join('\u0000')}`);
    const run = this.db.transaction((): CampaignState => {
      this.stmts.expire.run(t - this.limits.windowMs);
      let known = this.stmts.campaign.get(id);
      if (!known) {
        const n = this.stmts.count.get()?.n ?? 0;
        if (n >= this.limits.maxCampaigns) this.stmts.evict.run(n - this.limits.maxCampaigns + 1);
        this.stmts.insertCampaign.run(id, t, t);
        known = { copies: 0 };
      }
      const rows = new Map<string, SlotRow>();
      for (const r of this.stmts.slots.all(id)) rows.set(`${r.slot}\u0000${r.position}`, r);
      const recorded = !this.stmts.fingerprint.get(id, fingerprint);
      const learned: { template: string; positions: Position[] }[] = [];
      if (recorded) {
        this.stmts.insertFingerprint.run(id, fingerprint, t);
        if ((known.copies + 1) % 64 === 0) this.stmts.trimFingerprints.run(id, id, MAX_FINGERPRINTS);
        const slotsKept = new Set([...rows.values()].map((r) => r.slot));
        const newlyVarying = new Map<string, Set<Position>>();
        for (const s of copy.slots) {
          const slot = slotKey(s.template, s.occurrence);
          if (!slotsKept.has(slot)) {
            if (slotsKept.size >= this.limits.maxUrlsPerCampaign) continue;
            slotsKept.add(slot);
          }
          for (const [position, value] of s.values) {
            const h = this.hmac(`value\u0000${slot}\u0000${position}\u0000${value}`).slice(0, 16);
            const prev = rows.get(`${slot}\u0000${position}`);
            const hashes = prev ? prev.hashes.split(' ') : [];
            const seen = hashes.includes(h);
            if (!seen && hashes.length < SKETCH_SIZE) hashes.push(h);
            const next: SlotRow = {
              slot,
              position,
              copies: (prev?.copies ?? 0) + 1,
              distinct_values: (prev?.distinct_values ?? 0) + (seen ? 0 : 1),
              repeats: (prev?.repeats ?? 0) + (seen ? 1 : 0),
              hashes: hashes.join(' '),
            };
            const was = prev ? isVarying(prev.copies, prev.distinct_values, prev.repeats) : false;
            if (!was && isVarying(next.copies, next.distinct_values, next.repeats)) {
              const set = newlyVarying.get(s.template) ?? new Set<Position>();
              set.add(position);
              newlyVarying.set(s.template, set);
            }
            rows.set(`${slot}\u0000${position}`, next);
            this.stmts.upsertSlot.run(id, slot, position, next.copies, next.distinct_values, next.repeats, next.hashes);
          }
        }
        for (const [template, positions] of newlyVarying) learned.push({ template, positions: [...positions].sort() });
      }
      this.stmts.touch.run(recorded ? 1 : 0, t, id);
      const varying = new Map<string, VaryingPosition[]>();
      for (const r of rows.values()) {
        if (!isVarying(r.copies, r.distinct_values, r.repeats)) continue;
        const list = varying.get(r.slot) ?? [];
        list.push({ position: r.position, distinct: r.distinct_values });
        varying.set(r.slot, list);
      }
      return { copies: known.copies + (recorded ? 1 : 0), recorded, varying, learned, ref: id.slice(0, 12) };
    });
    return this.guard(() => run.immediate());
  }

  async size(now: Date = new Date()): Promise<number> {
    return this.guard(() => {
      this.stmts.expire.run(now.getTime() - this.limits.windowMs);
      return this.stmts.count.get()?.n ?? 0;
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private hmac(data: string): string {
    return createHmac('sha256', this.key).update(data, 'utf8').digest('hex');
  }

  /** The per-store key, created with the store (two processes racing: the first insert wins). */
  private loadKey(): Buffer {
    this.db.prepare('INSERT OR IGNORE INTO store_key (id, key) VALUES (1, ?)').run(randomBytes(32));
    const row = this.db.prepare<[], { key: Buffer }>('SELECT key FROM store_key WHERE id = 1').get();
    if (!row) throw new Error('store key missing after insert');
    return row.key;
  }

  private guard<T>(fn: () => T): T {
    return guarded(fn, 'CAMPAIGN_STORE_UNAVAILABLE', LABEL, this.file);
  }
}
