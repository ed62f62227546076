import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { AuditEvent } from '../../src/audit/events.js';
import type { AuditQuery } from '../../src/audit/log.js';
import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { RelayError } from '../../src/errors.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { sampleEvents } from './fixtures.js';

describe('SqliteAuditLog', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let log: SqliteAuditLog;
  beforeEach(async () => {
    tmp = await makeTempDir();
    log = new SqliteAuditLog(tmp.path);
    await log.append(
      sampleEvents((a) => log.recipientHash(a)),
      ['alice@example.com', 'Bob@Example.org', 'carol@example.net'],
    );
  });
  afterEach(async () => {
    await log.close();
    await tmp.cleanup();
  });

  // query → ids of the rows it returns (ids follow append order: 1..4)
  const QUERIES: [string, AuditQuery, number[]][] = [
    ['everything', {}, [1, 2, 3, 4]],
    ['since', { since: '2026-10-02' }, [3, 4]],
    ['until', { until: '2026-10-02' }, [1, 2]],
    ['recipient (any spelling)', { recipient: ' BOB@example.org' }, [1, 2, 4]],
    ['recipient with one event', { recipient: 'carol@example.net' }, [3]],
    ['unknown recipient', { recipient: 'nobody@example.com' }, []],
    ['sender: its relayed row and the findings of its messages', { sender: 'news@sender.example' }, [1, 2]],
    ['sender and since', { sender: 'news@sender.example', since: '2026-10-02' }, []],
    ['type', { type: 'finding' }, [2]],
    ['limit keeps the most recent', { limit: 2 }, [3, 4]],
    ['recipient and limit', { recipient: 'bob@example.org', limit: 1 }, [4]],
  ];
  it.each(QUERIES)('list: %s', async (_name, query, ids) => {
    expect((await log.list(query)).map((r) => r.id)).toEqual(ids);
  });

  it('round-trips events across reopening, with addresses redacted from free text', async () => {
    await log.close();
    log = new SqliteAuditLog(tmp.path);
    const rows = await log.list();
    // the sender comes back as stored: lower-cased, like every address the log keys on
    const expected = sampleEvents((a) => log.recipientHash(a)).map((e, i) => ({
      ...e,
      id: i + 1,
      recipientHashes: [...e.recipientHashes].sort(),
      ...(e.type === 'relayed' ? { sender: e.sender.toLowerCase() } : {}),
    }));
    expect(rows.slice(0, 3)).toEqual(expected.slice(0, 3));
    expect(rows[3]).toEqual({ ...expected[3], reason: '550 5.1.1 <<redacted address>>: Recipient address rejected' });
  });

  it('keeps addresses only in subjects, apart from the events', async () => {
    const raw = new Database(join(tmp.path, 'audit.db'), { readonly: true });
    try {
      // recipients and (pseudonymised in the chain) senders
      expect(raw.prepare('SELECT address FROM subjects ORDER BY address').pluck().all()).toEqual([
        'alice@example.com',
        'bob@example.org',
        'carol@example.net',
        'news@sender.example',
        'sales@other.example',
      ]);
      const everythingElse = JSON.stringify([raw.prepare('SELECT * FROM audit_events').all(), raw.prepare('SELECT * FROM event_recipients').all()]);
      expect(everythingElse).not.toMatch(/alice|bob@|carol/);
      expect(raw.prepare('SELECT count(*) FROM event_recipients').pluck().get()).toBe(6);
    } finally {
      raw.close();
    }
  });

  it('erasing a subject row cuts the link and leaves the log', async () => {
    const raw = new Database(join(tmp.path, 'audit.db'));
    try {
      raw.prepare('DELETE FROM subjects WHERE address = ?').run('bob@example.org');
      expect(() => raw.prepare("UPDATE audit_events SET type = 'x'").run()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
    expect(await log.list()).toHaveLength(4);
  });

  it('redacts a raw URL handed in by mistake', async () => {
    const [, finding] = sampleEvents((a) => log.recipientHash(a));
    await log.append([{ ...finding!, queueId: 'Q9', redactedUrl: 'https://t.example.net/o/bob@example.org/9f8e7d6c5b4a39281726.gif?e=bob' } as AuditEvent]);
    const [row] = await log.list({ type: 'finding', limit: 1 });
    expect(row?.type === 'finding' && row.redactedUrl).toBe('https://t.example.net/o/*/*.gif?…');
  });

  it('appends all or nothing, and refuses addresses in place of hashes', async () => {
    const [relayed] = sampleEvents((a) => log.recipientHash(a));
    const bad = { ...relayed!, queueId: 'Q8', recipientHashes: ['dave@example.com'] };
    const err = await log.append([{ ...relayed!, queueId: 'Q7' }, bad]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('AUDIT_UNAVAILABLE');
    expect((err as RelayError).message).toMatch(/recipientHashes.0: a recipient hash/);
    expect(await log.list()).toHaveLength(4);
  });

  it('rejects a bad time filter as USAGE', async () => {
    await expect(log.list({ since: 'yesterday' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(log.list({ limit: 0 })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('a data dir that is a file → AUDIT_UNAVAILABLE naming the fix', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = join(tmp.path, 'not-a-dir');
    writeFileSync(file, '');
    expect(() => new SqliteAuditLog(file)).toThrow(/audit log unavailable: data directory .* is not a directory/);
  });

  it('a locked database → AUDIT_UNAVAILABLE', async () => {
    await log.close();
    log = new SqliteAuditLog(tmp.path, { busyTimeoutMs: 50 });
    const locker = new Database(join(tmp.path, 'audit.db'));
    try {
      locker.exec('BEGIN EXCLUSIVE');
      const err = await log.append(sampleEvents((a) => log.recipientHash(a))).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as RelayError).code).toBe('AUDIT_UNAVAILABLE');
      expect((err as RelayError).message).toMatch(/audit\.db is locked/);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
  });
});
