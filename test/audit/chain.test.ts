/**
 * The audit chain on a real SQLite file: an untouched log verifies; each kind of tampering done
 * with raw SQL (as someone with write access to audit.db would) is found and named; erasing a
 * person (subjects row, clear sender) leaves the chain verifiable.
 */
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { GENESIS_MAC, canonicalJson, loadChainKey } from '../../src/audit/chain.js';
import type { AuditEvent } from '../../src/audit/events.js';
import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { sampleEvents } from './fixtures.js';

function moreEvents(hash: (a: string) => string, n: number): AuditEvent[] {
  return Array.from(
    { length: n },
    (_, i): AuditEvent => ({
      type: 'finding',
      at: `2026-10-0${3 + (i % 5)}T1${i % 10}:00:00.000Z`,
      queueId: `QX${i}`,
      consentClass: '',
      recipientHashes: [hash(`r${i}@example.com`)],
      kind: 'open',
      technique: 'img',
      vendor: 'Mailchimp',
      ruleId: 'mailchimp.open',
      action: 'remove-element',
      redactedUrl: 'https://x.list-manage.com/track/open.php?…',
    }),
  );
}

describe('audit chain', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let log: SqliteAuditLog;
  let file: string;
  beforeEach(async () => {
    tmp = await makeTempDir();
    log = new SqliteAuditLog(tmp.path);
    file = join(tmp.path, 'audit.db');
    // two appends (two transactions): links continue across them
    await log.append(
      sampleEvents((a) => log.recipientHash(a)),
      ['alice@example.com', 'bob@example.org', 'carol@example.net'],
    );
    await log.append(
      moreEvents((a) => log.recipientHash(a), 6),
      [],
    );
  });
  afterEach(async () => {
    await log.close();
    await tmp.cleanup();
  });

  /** Raw SQL as an intruder would run it: the append-only triggers are no obstacle to them. */
  function tamper(sql: string): void {
    const db = new Database(file);
    try {
      db.exec('DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS event_recipients_no_update;');
      db.exec(sql);
    } finally {
      db.close();
    }
  }

  it('numbers and links every event; an untouched log verifies', async () => {
    const db = new Database(file, { readonly: true });
    const rows = db.prepare<[], { seq: number; prev_mac: string; mac: string }>('SELECT seq, prev_mac, mac FROM audit_events ORDER BY id').all();
    db.close();
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rows[0]!.prev_mac).toBe(GENESIS_MAC);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_mac).toBe(rows[i - 1]!.mac);
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, events: 10, problems: [], head: { seq: 10, mac: rows[9]!.mac } });
    expect(await log.chainHead()).toEqual({ seq: 10, mac: rows[9]!.mac });
  });

  it('the chain key is its own 0600 file, apart from the address key', async () => {
    const { statSync, readFileSync } = await import('node:fs');
    const st = statSync(join(tmp.path, 'audit-chain.key'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(readFileSync(join(tmp.path, 'audit-chain.key')).equals(readFileSync(join(tmp.path, 'audit.key')))).toBe(false);
    expect(String(loadChainKey(tmp.path))).toBe('[audit chain key]');
  });

  it('no clear address is in what the MAC covers: the relayed row chains the sender as a keyed hash', async () => {
    const db = new Database(file, { readonly: true });
    const row = db.prepare<[], { details: string; sender: string; sender_hash: string }>("SELECT details, sender, sender_hash FROM audit_events WHERE type = 'relayed' LIMIT 1").get()!;
    db.close();
    expect(row.details).not.toContain('"sender"');
    expect(row.details).not.toContain('news@');
    expect(row.sender).toBe('news@sender.example');
    expect(row.sender_hash).toBe(log.recipientHash('news@sender.example'));
  });

  it('an edited row is found and named', async () => {
    tamper("UPDATE audit_events SET details = json_set(details, '$.vendor', 'Nobody') WHERE seq = 2");
    const r = await log.verify();
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'edited', seq: 2 })]);
  });

  it('an edited time, or a recipient removed from an event, is an edit too', async () => {
    tamper("UPDATE audit_events SET at = '2026-09-01T00:00:00.000Z' WHERE seq = 5; DELETE FROM event_recipients WHERE event_id = (SELECT id FROM audit_events WHERE seq = 7)");
    const r = await log.verify();
    expect(r.problems.map((p) => [p.kind, p.seq])).toEqual([
      ['edited', 5],
      ['edited', 7],
    ]);
  });

  it('a deleted row is found by its missing number', async () => {
    tamper('DELETE FROM audit_events WHERE seq = 6');
    const r = await log.verify();
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'deleted', seq: 6, message: 'event #6 is missing (deleted)' })]);
  });

  it('deleting the first events is found (no retention purge recorded them)', async () => {
    tamper('DELETE FROM audit_events WHERE seq <= 2');
    expect((await log.verify()).problems).toEqual([expect.objectContaining({ kind: 'deleted', seq: 1 })]);
  });

  it('two rows swapped with their chain columns: reordered', async () => {
    // rewrite rows 3 and 4 with each other's everything, as an export/re-import in another order would
    tamper(`
      CREATE TEMP TABLE t AS SELECT * FROM audit_events WHERE seq IN (3, 4);
      CREATE TEMP TABLE tr AS SELECT * FROM event_recipients WHERE event_id IN (SELECT id FROM t);
      DELETE FROM audit_events WHERE seq IN (3, 4);
      INSERT INTO audit_events (id, type, at, queue_id, sender, consent_class, details, seq, prev_mac, mac, sender_hash)
        SELECT (SELECT id FROM t WHERE seq = CASE x.seq WHEN 3 THEN 4 ELSE 3 END), type, at, queue_id, sender, consent_class, details, seq, prev_mac, mac, sender_hash FROM t x;
      INSERT INTO event_recipients SELECT (SELECT y.id FROM t y WHERE y.seq = CASE (SELECT seq FROM t WHERE id = tr.event_id) WHEN 3 THEN 4 ELSE 3 END), recipient_hash FROM tr;
    `);
    const r = await log.verify();
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'reordered', seq: 3, message: 'event #3 is stored after event #4: events were reordered' })]);
  });

  it('two rows whose contents were swapped (numbers left in place): swapped', async () => {
    tamper(`
      CREATE TEMP TABLE t AS SELECT id, type, at, queue_id, consent_class, details FROM audit_events WHERE seq IN (8, 9);
      UPDATE audit_events SET (type, at, queue_id, consent_class, details) =
        (SELECT type, at, queue_id, consent_class, details FROM t WHERE t.id <> audit_events.id) WHERE seq IN (8, 9);
      CREATE TEMP TABLE tr AS SELECT * FROM event_recipients WHERE event_id IN (SELECT id FROM t);
      DELETE FROM event_recipients WHERE event_id IN (SELECT id FROM t);
      INSERT INTO event_recipients SELECT (SELECT id FROM t WHERE t.id <> tr.event_id), recipient_hash FROM tr;
    `);
    const r = await log.verify();
    expect(r.problems.map((p) => [p.kind, p.seq, p.message])).toEqual([
      ['swapped', 8, 'event #8 holds the content of event #9: events were swapped or moved'],
      ['swapped', 9, 'event #9 holds the content of event #8: events were swapped or moved'],
    ]);
  });

  it('a forged row without the chain key, and a row outside the chain, are found', async () => {
    tamper(`
      INSERT INTO audit_events (type, at, queue_id, consent_class, details, seq, prev_mac, mac)
        SELECT type, at, queue_id, consent_class, details, 11, mac, '${'f'.repeat(64)}' FROM audit_events WHERE seq = 10;
      INSERT INTO audit_events (type, at, queue_id, consent_class, details) SELECT type, at, queue_id, consent_class, details FROM audit_events WHERE seq = 10;
    `);
    const r = await log.verify();
    expect(r.problems.map((p) => p.kind).sort()).toEqual(['edited', 'inserted']);
  });

  it('a changed clear sender is found (its chained hash no longer matches)', async () => {
    tamper("UPDATE audit_events SET sender = 'someone@else.example' WHERE type = 'relayed' AND seq = 1");
    expect((await log.verify()).problems).toEqual([expect.objectContaining({ kind: 'sender-edited', seq: 1 })]);
  });

  it('erasure keeps the chain: subjects rows deleted and a clear sender forgotten, through the normal triggers', async () => {
    const db = new Database(file);
    db.prepare('DELETE FROM subjects WHERE recipient_hash = ?').run(log.recipientHash('alice@example.com'));
    // the one UPDATE the trigger allows
    db.prepare("UPDATE audit_events SET sender = NULL WHERE sender = 'news@sender.example'").run();
    expect(() => db.prepare("UPDATE audit_events SET queue_id = 'X' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare("UPDATE audit_events SET sender = 'x@y.example' WHERE seq = 3").run()).toThrow(/append-only/);
    db.close();
    expect(await log.verify()).toMatchObject({ ok: true, events: 10 });
    expect((await log.list({ queueId: 'Q1', type: 'relayed' }))[0]).toMatchObject({ sender: '(erased)' });
  });

  it('against a checkpoint: a cut tail is truncation; a rewritten history is found', async () => {
    const head = (await log.chainHead())!;
    const claim = { count: head.seq, head: head.mac, at: '2026-11-30T00:00:00.000Z' };
    expect(await log.verify(claim)).toMatchObject({ ok: true, checkpoint: { status: 'ok' } });
    await log.append(
      moreEvents((a) => log.recipientHash(a), 2),
      [],
    );
    expect(await log.verify(claim)).toMatchObject({ ok: true, checkpoint: { status: 'ok' } });
    tamper('DELETE FROM audit_events WHERE seq >= 9');
    // without the checkpoint a cut tail is a shorter valid chain; with it, it is named
    expect((await log.verify()).ok).toBe(true);
    const r = await log.verify(claim);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.objectContaining({ kind: 'truncated', seq: 9, message: 'the log ends at event #8, but the checkpoint of 2026-11-30T00:00:00.000Z counted 10 events: events #9–#10 were cut away' }),
    ]);
    expect(r.checkpoint?.status).toBe('failed');
  });

  it('against a checkpoint: history rewritten with the chain key itself is found', async () => {
    const head = (await log.chainHead())!;
    const claim = { count: head.seq, head: head.mac, at: '2026-11-30T00:00:00.000Z' };
    // someone holding the data directory (keys included) deletes the tail and writes other events
    tamper('DELETE FROM audit_events WHERE seq >= 5');
    await log.append(
      moreEvents((a) => log.recipientHash(`${a}x`), 7),
      [],
    );
    expect((await log.verify()).ok).toBe(true);
    const r = await log.verify(claim);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'rewritten', seq: 10 })]);
  });

  it('a retention purge of a prefix, recorded in the chain, verifies; the same deletion unrecorded does not', async () => {
    const db = new Database(file, { readonly: true });
    const through = db.prepare<[], { seq: number; mac: string }>('SELECT seq, mac FROM audit_events WHERE seq = 4').get()!;
    db.close();
    const head = (await log.chainHead())!;
    const checkpoint = { count: head.seq, head: head.mac, at: '2026-11-30T00:00:00.000Z' };
    // the contract of src/audit/README.md: announce (throughSeq, throughMac), then delete events 1..throughSeq
    await log.append([
      {
        type: 'retention-purged',
        at: '2026-11-30T01:00:00.000Z',
        queueId: '',
        consentClass: '',
        recipientHashes: [],
        before: '2026-10-03T00:00:00.000Z',
        throughSeq: through.seq,
        throughMac: through.mac,
        events: 4,
      },
    ]);
    tamper('DELETE FROM audit_events WHERE seq <= 4');
    const r = await log.verify(checkpoint);
    expect(r).toMatchObject({ ok: true, purgedThrough: 4, firstSeq: 5, events: 7, checkpoint: { status: 'ok' } });
    // one more event deleted beyond what the purge announced is tampering again
    tamper('DELETE FROM audit_events WHERE seq = 5');
    expect((await log.verify()).problems).toEqual([expect.objectContaining({ kind: 'deleted', seq: 5, message: 'event #5 is missing (deleted after the retention purge through #4)' })]);
  });

  it('rows from before the chain existed are counted apart, not reported', async () => {
    const old = await makeTempDir();
    try {
      const fresh = new SqliteAuditLog(old.path);
      const db = new Database(join(old.path, 'audit.db'));
      // as the schema-1 relay wrote them: no seq, no MACs
      db.exec(`INSERT INTO audit_events (type, at, queue_id, consent_class, details) VALUES
        ('rejected', '2026-09-01T00:00:00.000Z', 'OLD1', '', '{"reason":"451 later"}'),
        ('rejected', '2026-09-02T00:00:00.000Z', 'OLD2', '', '{"reason":"451 later"}')`);
      db.close();
      await fresh.append(
        moreEvents((a) => fresh.recipientHash(a), 3),
        [],
      );
      expect(await fresh.verify()).toMatchObject({ ok: true, unchained: 2, events: 3, firstSeq: 1 });
      await fresh.close();
    } finally {
      await old.cleanup();
    }
  });

  it('canonical JSON: one text whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], e: undefined })).toBe('{"a":[{"c":"x","d":null}],"b":1}');
  });
});
