/**
 * The campaign store on SQLite: `<dataDir>/campaigns.db` (mode 0600, as openDatabase makes every store), or an in-memory database for
 * `scan --campaign`. Values are written only as keyed hashes (SHA-256 over a random per-store key and the value): the
 * hashes just have to say "same" or "different" within this store, and keyed they match no other
 * installation's and no precomputed table. The key lives in the same file, so what protects the
 * hashes is mode 0600 and expiry after the window. Never written: raw URL values, recipient
 * addresses, subjects, senders (the campaign key is hashed too).
 */
import { hash, randomBytes } from 'node:crypto';

import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';

import { guarded, migrate, openDatabase, sqliteError } from '../store/sqlite.js';
import type { Migration, SqliteDatabase } from '../store/sqlite.js';
import { DEFAULT_CAMPAIGN_LIMITS, isVarying, slotKey } from './store.js';
import type { CampaignLimits, CampaignState, CampaignStore, CopyObservation, Position, VaryingPosition } from './store.js';

const CAMPAIGN_DB_FILE = 'campaigns.db';
const LABEL = 'campaign store';

/** Distinct value hashes kept per position: enough to see repeats among the recent copies. */
const SKETCH_SIZE = 16;
/** Copy fingerprints kept per campaign, to count a copy filtered twice (two consent classes, a retry) once. */
const MAX_FINGERPRINTS = 256;
/**
 * After this many copies a position's verdict stands and it is no longer written: a campaign of
 * 100 000 copies costs a read per copy, not 100 000 rewrites of every row. Repeats (A/B variants)
 * show long before.
 */
const SETTLED_AFTER = 32;

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
      -- one row per URL of the campaign; positions is a JSON object:
      -- position -> [copies, distinct values, repeats, "hash hash ..."]
      CREATE TABLE campaign_slots (
        campaign  TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        slot      TEXT NOT NULL,
        positions TEXT NOT NULL CHECK (json_valid(positions)),
        PRIMARY KEY (campaign, slot)
      ) WITHOUT ROWID;
    `,
  },
];

interface SlotRow {
  readonly slot: string;
  readonly positions: string;
}

/** What the store knows of one position of one URL. */
interface Sketch {
  copies: number;
  distinct: number;
  repeats: number;
  /** Up to SKETCH_SIZE keyed hashes of the values seen. */
  hashes: string[];
}

type SketchJson = [number, number, number, string];

function parseSketches(json: string): Map<Position, Sketch> {
  const out = new Map<Position, Sketch>();
  const obj = JSON.parse(json) as Record<string, SketchJson>;
  for (const [p, [copies, distinct, repeats, hashes]] of Object.entries(obj)) out.set(p, { copies, distinct, repeats, hashes: hashes ? hashes.split(' ') : [] });
  return out;
}

function sketchesJson(m: ReadonlyMap<Position, Sketch>): string {
  const obj: Record<string, SketchJson> = {};
  for (const [p, s] of m) obj[p] = [s.copies, s.distinct, s.repeats, s.hashes.join(' ')];
  return JSON.stringify(obj);
}

export interface SqliteCampaignStoreOptions {
  readonly limits?: Partial<CampaignLimits>;
  readonly busyTimeoutMs?: number;
}

export class SqliteCampaignStore implements CampaignStore {
  readonly file: string;
  readonly limits: CampaignLimits;
  private readonly db: SqliteDatabase;
  private readonly keyHex: string;
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
    upsertSlot: Statement<[string, string, string]>;
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
      this.keyHex = this.loadKey().toString('hex');
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
        slots: this.db.prepare('SELECT slot, positions FROM campaign_slots WHERE campaign = ?'),
        upsertSlot: this.db.prepare('INSERT INTO campaign_slots (campaign, slot, positions) VALUES (?, ?, ?) ON CONFLICT (campaign, slot) DO UPDATE SET positions = excluded.positions'),
      };
    } catch (err) {
      this.db.close();
      throw sqliteError(err, 'CAMPAIGN_STORE_UNAVAILABLE', LABEL, this.file);
    }
  }

  async observe(copy: CopyObservation, now: Date = new Date()): Promise<CampaignState> {
    const t = now.getTime();
    const id = this.keyedHash(`campaign\u0000${copy.campaign}`);
    // the fingerprint covers every value of the copy: the same copy filtered again is not a new recipient
    const fingerprint = this.keyedHash(
      `copy\u0000${copy.slots.map((s) => `${slotKey(s.template, s.occurrence)}\u0001${[...s.values].map(([p, v]) => `${p}\u0002${v}`).join('\u0001')}`).join('\u0000')}`,
    );
    const run = this.db.transaction((): CampaignState => {
      this.stmts.expire.run(t - this.limits.windowMs);
      let known = this.stmts.campaign.get(id);
      if (!known) {
        const n = this.stmts.count.get()?.n ?? 0;
        if (n >= this.limits.maxCampaigns) this.stmts.evict.run(n - this.limits.maxCampaigns + 1);
        this.stmts.insertCampaign.run(id, t, t);
        known = { copies: 0 };
      }
      const slots = new Map<string, Map<Position, Sketch>>();
      for (const r of this.stmts.slots.all(id)) slots.set(r.slot, parseSketches(r.positions));
      const recorded = !this.stmts.fingerprint.get(id, fingerprint);
      const learned: { template: string; positions: Position[] }[] = [];
      if (recorded) {
        this.stmts.insertFingerprint.run(id, fingerprint, t);
        if ((known.copies + 1) % 64 === 0) this.stmts.trimFingerprints.run(id, id, MAX_FINGERPRINTS);
        const newlyVarying = new Map<string, Set<Position>>();
        for (const s of copy.slots) {
          const slot = slotKey(s.template, s.occurrence);
          let sketches = slots.get(slot);
          if (!sketches) {
            if (slots.size >= this.limits.maxUrlsPerCampaign) continue;
            sketches = new Map();
            slots.set(slot, sketches);
          }
          let changed = false;
          for (const [position, value] of s.values) {
            let sk = sketches.get(position);
            if (sk && sk.copies >= SETTLED_AFTER) continue;
            const h = this.keyedHash(`value\u0000${slot}\u0000${position}\u0000${value}`).slice(0, 16);
            const was = sk ? isVarying(sk.copies, sk.distinct, sk.repeats) : false;
            sk ??= { copies: 0, distinct: 0, repeats: 0, hashes: [] };
            const seen = sk.hashes.includes(h);
            if (!seen && sk.hashes.length < SKETCH_SIZE) sk.hashes.push(h);
            sk.copies++;
            if (seen) sk.repeats++;
            else sk.distinct++;
            sketches.set(position, sk);
            changed = true;
            if (!was && isVarying(sk.copies, sk.distinct, sk.repeats)) {
              const set = newlyVarying.get(s.template) ?? new Set<Position>();
              set.add(position);
              newlyVarying.set(s.template, set);
            }
          }
          if (changed) this.stmts.upsertSlot.run(id, slot, sketchesJson(sketches));
        }
        for (const [template, positions] of newlyVarying) learned.push({ template, positions: [...positions].sort() });
      }
      this.stmts.touch.run(recorded ? 1 : 0, t, id);
      const varying = new Map<string, VaryingPosition[]>();
      for (const [slot, sketches] of slots) {
        for (const [position, sk] of sketches) {
          if (!isVarying(sk.copies, sk.distinct, sk.repeats)) continue;
          const list = varying.get(slot) ?? [];
          list.push({ position, distinct: sk.distinct });
          varying.set(slot, list);
        }
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

  /**
   * SHA-256 of the store key followed by the data. Not HMAC: nothing here is a MAC that an attacker
   * could extend, the hashes only say "same" or "different", and one-shot hashing is six times
   * faster than an HMAC object per value (a newsletter has thousands of positions).
   */
  private keyedHash(data: string): string {
    return hash('sha256', `${this.keyHex}\u0000${data}`);
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
