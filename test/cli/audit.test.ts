import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CSV_COLUMNS } from '../../src/audit/report.js';
import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { sampleEvents } from '../audit/fixtures.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { cli, oneErrorLine } from './run.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
beforeEach(async () => {
  tmp = await makeTempDir('consent-relay-cli-');
  data = join(tmp.path, 'data');
});
afterEach(async () => {
  await tmp.cleanup();
});

async function writeSampleRows(): Promise<void> {
  const log = new SqliteAuditLog(data);
  try {
    await log.append(
      sampleEvents((a) => log.recipientHash(a)),
      ['alice@example.com', 'bob@example.org', 'carol@example.net'],
    );
  } finally {
    await log.close();
  }
}

interface JsonRow {
  id: number;
  type: string;
  queueId: string;
}

function ids(out: string): number[] {
  return (JSON.parse(out) as JsonRow[]).map((r) => r.id);
}

describe('consent-relay audit list', () => {
  it('on a data directory without an audit log: a clear note, an empty result, and no store created', () => {
    const t = cli(['audit', 'list', '-d', data]);
    expect(t.status).toBe(0);
    expect(t.out).toBe('no audit events\n');
    expect(oneErrorLine(t)).toMatch(/^consent-relay: no audit log at .*audit\.db yet/);
    const j = cli(['audit', 'list', '-d', data, '--format', 'json']);
    expect(j.status).toBe(0);
    expect(JSON.parse(j.out)).toEqual([]);
    const c = cli(['audit', 'list', '-d', data, '--format', 'csv']);
    expect(c.out).toBe(`${CSV_COLUMNS.join(',')}\r\n`);
    expect(existsSync(data)).toBe(false);
  });

  it('on an empty audit log: no events', async () => {
    await new SqliteAuditLog(data).close();
    const r = cli(['audit', 'list', '-d', data]);
    expect(r.status).toBe(0);
    expect(r.out).toBe('no audit events\n');
    expect(r.err).toBe('');
  });

  it('lists rows as a table, CSV and JSON', async () => {
    await writeSampleRows();
    const t = cli(['audit', 'list', '-d', data]);
    expect(t.status).toBe(0);
    const lines = t.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id +at +type +queue id +consent +rcpts +detail$/);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/^1 +2026-10-01T10:00:00\.000Z +relayed +Q1 +none +2 +from news@sender\.example enforce/);
    expect(lines[2]).toMatch(/^2 +.* finding +Q1 .*remove-element open\/img Mailchimp mailchimp\.open/);
    expect(lines[4]).toMatch(/^4 +.* rejected +Q3 /);
    // recipients appear only as hashes
    expect(t.out).not.toMatch(/alice|bob@|carol/);

    const c = cli(['audit', 'list', '-d', data, '--format', 'csv']);
    expect(c.status).toBe(0);
    const rows = c.out.split('\r\n').filter(Boolean);
    expect(rows[0]).toBe(CSV_COLUMNS.join(','));
    expect(rows).toHaveLength(5);
    expect(rows[2]).toMatch(/^2,2026-10-01T10:00:00\.000Z,finding,Q1,/);
    expect(rows[2]).toContain(',mailchimp.open,remove-element,');

    const j = cli(['audit', 'list', '-d', data, '-f', 'json']);
    expect(j.status).toBe(0);
    const parsed = JSON.parse(j.out) as JsonRow[];
    expect(parsed.map((r) => [r.id, r.type, r.queueId])).toEqual([
      [1, 'relayed', 'Q1'],
      [2, 'finding', 'Q1'],
      [3, 'relayed', 'Q2'],
      [4, 'rejected', 'Q3'],
    ]);
  });

  it('filters by --recipient, --sender, --type, --since/--until and --limit', async () => {
    await writeSampleRows();
    const json = (...args: string[]): number[] => {
      const r = cli(['audit', 'list', '-d', data, '--format', 'json', ...args]);
      expect(r.status, r.err).toBe(0);
      return ids(r.out);
    };
    expect(json('--recipient', 'alice@example.com')).toEqual([1, 2]);
    expect(json('--recipient', 'BOB@example.org')).toEqual([1, 2, 4]);
    expect(json('--recipient', 'nobody@example.com')).toEqual([]);
    expect(json('--sender', 'news@sender.example')).toEqual([1, 2]);
    expect(json('--type', 'finding')).toEqual([2]);
    expect(json('--since', '2026-10-02')).toEqual([3, 4]);
    expect(json('--until', '2026-10-02')).toEqual([1, 2]);
    expect(json('--since', '2026-10-02', '--until', '2026-10-03')).toEqual([3]);
    expect(json('--limit', '2')).toEqual([3, 4]);
    expect(json('--recipient', 'bob@example.org', '--type', 'rejected')).toEqual([4]);

    // durations count back from now
    const log = new SqliteAuditLog(data);
    await log.append([
      {
        type: 'spooled',
        at: new Date().toISOString(),
        queueId: 'Q4',
        consentClass: '',
        recipientHashes: [log.recipientHash('dave@example.com')],
        spoolId: 'S1',
        attempt: 1,
        upstream: '451 4.4.1 try later',
        nextAttemptAt: new Date().toISOString(),
      },
    ]);
    await log.close();
    expect(json('--since', '1d')).toEqual([5]);
    expect(json('--until', '1d')).toEqual([1, 2, 3, 4]);

    const table = cli(['audit', 'list', '-d', data, '--recipient', 'alice@example.com']);
    expect(table.out.trimEnd().split('\n')).toHaveLength(3);
  }, 120_000); // 14 CLI processes in a row: at load ~16 on 2 cores that took over the default 30 s

  it('bad option values are usage errors', () => {
    const cases: [string[], RegExp][] = [
      [['--format', 'xml'], /--format must be one of table, csv, json, not "xml"/],
      [['--type', 'opened'], /--type must be one of finding, campaign-template, relayed, rejected, spooled, retried, delivered-from-spool, bounced, dropped/],
      [['--limit', '0'], /--limit must be a whole number/],
      [['--since', 'last week'], /--since must be a date \(2026-10-01\), a time .* or a duration like 7d/],
    ];
    for (const [args, message] of cases) {
      const r = cli(['audit', 'list', '-d', data, ...args]);
      expect(r.status).toBe(64);
      expect(oneErrorLine(r)).toMatch(message);
    }
  });

  it('refuses to make a new audit key for an existing log', async () => {
    await writeSampleRows();
    rmSync(join(data, 'audit.key'));
    const r = cli(['audit', 'list', '-d', data]);
    expect(r.status).toBe(75);
    expect(oneErrorLine(r)).toMatch(/audit key .*audit\.key is missing .*restore the key/);
    expect(existsSync(join(data, 'audit.key'))).toBe(false);
  });
});
