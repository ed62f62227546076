import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { makeTempDir } from '../helpers/tmpdir.js';
import { cli, ROOT } from './run.js';

const FIXTURES = join(ROOT, 'fixtures', 'consent');
let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
beforeEach(async () => {
  tmp = await makeTempDir('consent-relay-cli-');
  data = join(tmp.path, 'data');
});
afterEach(async () => {
  await tmp.cleanup();
});

const rows = (): number => {
  const db = new Database(join(data, 'consent.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM consent_events').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('consent-relay consent import / export', () => {
  it('bad rows: each reported with its line number, exit 65, nothing written (dry run or not)', () => {
    // a store with one event already: the failed import must leave it exactly so
    expect(cli(['consent', 'grant', 'old@customer.example', '--scope', 'opens', '--source', 'form', '-d', data]).status).toBe(0);
    for (const dry of [['--dry-run'], []]) {
      const r = cli(['consent', 'import', join(FIXTURES, 'pipedrive-bad-rows.csv'), '--scope', 'opens,clicks', ...dry, '-d', data]);
      expect(r.status).toBe(65);
      expect(r.out).toMatch(/pipedrive format, sha256 [0-9a-f]{64}/);
      expect(r.out).toMatch(/^line 3: invalid email address "kim at customer\.example"/m);
      expect(r.out).toMatch(/^line 6: unknown marketing status "Maybe"/m);
      expect(r.out).toMatch(/^line 7: 2 fields where the header has 4$/m);
      expect(r.out).not.toMatch(/^line [245]:/m);
      expect(r.err).toMatch(/^consent-relay: .*3 bad rows \(listed above\); nothing recorded\n$/);
      expect(rows()).toBe(1);
    }
  });

  it('a dry run on a fresh data directory creates no store', () => {
    const r = cli(['consent', 'import', join(FIXTURES, 'hubspot-contacts.csv'), '--scope', 'clicks', '--dry-run', '-d', data]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/dry run: every row is valid; would record 2 events \(1 grant, 1 withdrawal\), 1 row without a consent statement skipped/);
    expect(existsSync(join(data, 'consent.db'))).toBe(false);
  });

  it('import records file hash, line and wording; export reads back', () => {
    const wording = join(tmp.path, 'form-v3.txt');
    writeFileSync(wording, 'Yes, you may see whether I open your newsletter.\r\n');
    const r = cli(['consent', 'import', join(FIXTURES, 'pipedrive-persons.csv'), '--scope', 'opens,clicks', '--wording-version', 'form v3', '--wording-file', wording, '--by', 'ops', '-d', data]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/recorded 2 events \(1 grant, 1 withdrawal\), 2 rows without a consent statement skipped/);
    const show = cli(['consent', 'show', 'frank@customer.example', '-d', data]);
    expect(show.out).toMatch(/import \(file [0-9a-f]{12}…, line 2\)/);
    expect(show.out).toMatch(/form v3 sha256:[0-9a-f]{12}…/);

    const csv = cli(['consent', 'export', '--format', 'csv', '-d', data]);
    expect(csv.status).toBe(0);
    const lines = csv.out.trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^frank@customer\.example,grant,"opens,clicks",import of pipedrive export,import,,ops,\S+,,form v3,[0-9a-f]{64},[0-9a-f]{64},2$/);
    const json = JSON.parse(cli(['consent', 'export', '--format', 'json', '-d', data]).out) as { records: { address: string }[] };
    expect(json.records.map((x) => x.address)).toEqual(['frank@customer.example', 'gina@customer.example']);

    const again = join(tmp.path, 'export.csv');
    writeFileSync(again, csv.out);
    const other = join(tmp.path, 'other');
    expect(cli(['consent', 'import', again, '-d', other]).status).toBe(0);
    expect(cli(['consent', 'show', 'gina@customer.example', '-d', other]).out).toMatch(/^gina@customer\.example: none\n/);
    expect(cli(['consent', 'export', '--format', 'xml', '-d', data]).status).toBe(64);
  });
});
