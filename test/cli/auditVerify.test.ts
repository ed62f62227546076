/**
 * `consent-relay audit verify` and `audit checkpoint` as users run them, on a real audit.db
 * tampered with by Debian's sqlite3 shell (installed by .ci/install-interop.sh): each kind of
 * tampering is named with its event number and exits 65; an untouched log exits 0.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { sampleEvents } from '../audit/fixtures.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { cli } from './run.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
beforeEach(async () => {
  tmp = await makeTempDir('consent-relay-verify-');
  data = join(tmp.path, 'data');
  const log = new SqliteAuditLog(data);
  try {
    // 8 events in two transactions
    await log.append(
      sampleEvents((a) => log.recipientHash(a)),
      ['alice@example.com'],
    );
    await log.append(
      sampleEvents((a) => log.recipientHash(a)).map((e) => ({ ...e, queueId: `${e.queueId}b`, at: e.at.replace('2026-10', '2026-11') })),
      [],
    );
  } finally {
    await log.close();
  }
});
afterEach(async () => {
  await tmp.cleanup();
});

/** The sqlite3 shell on audit.db; the intruder first drops the append-only triggers. */
function sqlite3(sql: string): void {
  const r = spawnSync('sqlite3', [join(data, 'audit.db')], { input: `DROP TRIGGER IF EXISTS audit_events_no_update;\n${sql}\n`, encoding: 'utf8' });
  if (r.error) throw r.error;
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

describe('consent-relay audit verify', () => {
  it('an untouched log verifies: exit 0', () => {
    const r = cli(['audit', 'verify', '-d', data]);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^audit chain OK: 8 event\(s\) \(#1–#8\), head [0-9a-f]{16}…\n$/);
  });

  it('a row edited with sqlite3: exit 65 naming the event', () => {
    sqlite3("UPDATE audit_events SET details = json_set(details, '$.action', 'keep') WHERE seq = 2;");
    const r = cli(['audit', 'verify', '-d', data]);
    expect(r.status).toBe(65);
    expect(r.out).toContain('audit chain FAILED: 1 problem(s) in 8 event(s)');
    expect(r.out).toContain('edited: event #2 (finding, 2026-10-01T10:00:00.000Z): its content does not match its MAC (edited)');
  });

  it('a row deleted with sqlite3', () => {
    sqlite3('DELETE FROM audit_events WHERE seq = 5;');
    const r = cli(['audit', 'verify', '-d', data, '--json']);
    expect(r.status).toBe(65);
    const j = JSON.parse(r.out) as { ok: boolean; problems: { kind: string; seq: number }[] };
    expect(j.ok).toBe(false);
    expect(j.problems).toEqual([expect.objectContaining({ kind: 'deleted', seq: 5 })]);
  });

  it("two rows swapped with sqlite3 (each takes the other's place)", () => {
    sqlite3(`
      DROP TRIGGER event_recipients_no_update;
      CREATE TEMP TABLE ids AS SELECT seq, id FROM audit_events WHERE seq IN (3, 4);
      UPDATE event_recipients SET event_id = -event_id WHERE event_id IN (SELECT id FROM ids);
      UPDATE audit_events SET id = -id WHERE seq IN (3, 4);
      UPDATE audit_events SET id = (SELECT id FROM ids WHERE ids.seq = CASE audit_events.seq WHEN 3 THEN 4 ELSE 3 END) WHERE seq IN (3, 4);
      UPDATE event_recipients SET event_id = (SELECT a.id FROM audit_events a JOIN ids i ON a.seq = i.seq WHERE i.id = -event_recipients.event_id) WHERE event_id < 0;
    `);
    const r = cli(['audit', 'verify', '-d', data]);
    expect(r.status).toBe(65);
    expect(r.out).toContain('audit chain FAILED: 1 problem(s)');
    expect(r.out).toContain('reordered: event #3 is stored after event #4: events were reordered');
  });

  it('the tail cut after a checkpoint: verify alone passes, verify --checkpoint names the cut', () => {
    const c = cli(['audit', 'checkpoint', '-d', data]);
    expect(c.status).toBe(0);
    const cp = JSON.parse(c.out) as { statement: string; count: number; head: string; at: string; publicKey: string; signature: string };
    expect(cp).toMatchObject({ statement: 'consent-relay audit checkpoint v1', count: 8 });
    const file = join(tmp.path, 'checkpoint.json');
    writeFileSync(file, c.out);

    const ok = cli(['audit', 'verify', '-d', data, '--checkpoint', file]);
    expect(ok.status).toBe(0);
    expect(ok.out).toMatch(/checkpoint of .* \(8 events, head [0-9a-f]{16}…\) matches/);

    sqlite3('DELETE FROM audit_events WHERE seq >= 7;');
    expect(cli(['audit', 'verify', '-d', data]).status).toBe(0);
    const cut = cli(['audit', 'verify', '-d', data, '--checkpoint', file]);
    expect(cut.status).toBe(65);
    expect(cut.out).toContain(`truncated: the log ends at event #6, but the checkpoint of ${cp.at} counted 8 events: events #7–#8 were cut away`);
    expect(cut.out).toContain('does NOT match');
  });

  it('a checkpoint altered by hand, or signed by another key, is refused', async () => {
    const file = join(tmp.path, 'checkpoint.json');
    writeFileSync(file, cli(['audit', 'checkpoint', '-d', data]).out);
    const cp = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...cp, count: 6 }));
    const altered = cli(['audit', 'verify', '-d', data, '--checkpoint', file]);
    expect(altered.status).toBe(65);
    expect(altered.out).toContain('the signature does not match its content');

    // the public key printed for safe keeping, and another relay's key
    const pem = cli(['audit', 'checkpoint', '-d', data, '--public-key']);
    expect(pem.out).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const other = await makeTempDir('consent-relay-other-');
    try {
      await new SqliteAuditLog(join(other.path, 'd')).close();
      const otherPem = join(other.path, 'other.pem');
      writeFileSync(otherPem, cli(['audit', 'checkpoint', '-d', join(other.path, 'd'), '--public-key']).out);
      writeFileSync(file, JSON.stringify(cp));
      const mine = join(tmp.path, 'mine.pem');
      writeFileSync(mine, pem.out);
      expect(cli(['audit', 'verify', '-d', data, '--checkpoint', file, '--public-key', mine]).status).toBe(0);
      const wrong = cli(['audit', 'verify', '-d', data, '--checkpoint', file, '--public-key', otherPem]);
      expect(wrong.status).toBe(65);
      expect(wrong.out).toContain('signed by a key other than');
    } finally {
      await other.cleanup();
    }
  });

  it('checkpoint refuses to vouch for a broken chain', () => {
    sqlite3("UPDATE audit_events SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 1;");
    const r = cli(['audit', 'checkpoint', '-d', data]);
    expect(r.status).toBe(65);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^consent-relay: the audit chain does not verify \(1 problem\(s\), first: event #1 /);
  });
});
