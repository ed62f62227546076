import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { exportConsent, importConsent } from '../../src/consent/commands.js';
import { parseCsv } from '../../src/consent/csv.js';
import { planImport } from '../../src/consent/import.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const NOW = new Date('2026-11-30T12:00:00.000Z');
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'consent');
const file = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const plan = (name: string, extra: Partial<Parameters<typeof planImport>[0]> = {}) => planImport({ bytes: file(name), recordedBy: 'ops', now: NOW, ...extra });

describe('CSV reading', () => {
  it('keeps the line each record starts on, across quoted line breaks, CRLF and a BOM', () => {
    const r = parseCsv('\uFEFFa,b\r\n1,"x\r\ny"\r\n\r\n2,"say ""hi"""\n');
    expect(r).toEqual({
      ok: true,
      records: [
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['1', 'x\r\ny'] },
        { line: 5, fields: ['2', 'say "hi"'] },
      ],
    });
  });

  it('reads ; as the separator when the header uses it', () => {
    expect(parseCsv('Email;Marketing status\na@x.example;Subscribed\n')).toMatchObject({ ok: true, records: [{ fields: ['Email', 'Marketing status'] }, { fields: ['a@x.example', 'Subscribed'] }] });
  });

  it('an unclosed quote names the line it opened on', () => {
    expect(parseCsv('a,b\n1,"open\n2,3\n')).toEqual({ ok: false, line: 2, error: expect.stringMatching(/never closed/) as string });
  });
});

describe('CRM export mapping', () => {
  it('HubSpot: unsubscribed → withdraw all; consent as legal basis → grant of --scope; legitimate interest → skipped', () => {
    const p = plan('hubspot-contacts.csv', { scopes: ['clicks'] });
    expect(p.format).toBe('hubspot');
    expect(p.problems).toEqual([]);
    expect(p.skipped).toBe(1);
    expect(p.events.map((e) => [e.address, e.action, e.scopes, e.importLine])).toEqual([
      ['alice@customer.example', 'grant', ['clicks'], 2],
      ['bob@customer.example', 'withdraw', ['opens', 'clicks'], 3],
    ]);
    expect(p.events[0]).toMatchObject({ method: 'import', source: 'import of hubspot export', importSha256: p.sha256, recordedBy: 'ops' });
    expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('HubSpot grants without --scope are bad rows: a CRM does not say which tracking was agreed to', () => {
    const p = plan('hubspot-contacts.csv');
    expect(p.problems).toEqual([{ line: 2, reason: expect.stringMatching(/--scope/) as string }]);
  });

  it('Salesforce: HasOptedOutOfEmail=1 → withdraw; not opted out is not consent → skipped', () => {
    const p = plan('salesforce-contacts.csv');
    expect(p.format).toBe('salesforce');
    expect(p.problems).toEqual([]);
    expect(p.events.map((e) => [e.address, e.action])).toEqual([['dan@customer.example', 'withdraw']]);
    expect(p.skipped).toBe(1);
  });

  it('Pipedrive: Subscribed → grant, Unsubscribed → withdraw, No consent and pending double opt-in → skipped', () => {
    const p = plan('pipedrive-persons.csv', { scopes: ['opens', 'clicks'], wordingVersion: 'newsletter form v2', wordingSha256: 'a'.repeat(64) });
    expect(p.format).toBe('pipedrive');
    expect(p.events.map((e) => [e.address, e.action])).toEqual([
      ['frank@customer.example', 'grant'],
      ['gina@customer.example', 'withdraw'],
    ]);
    expect(p.skipped).toBe(2);
    expect(p.events[0]).toMatchObject({ wordingVersion: 'newsletter form v2', wordingSha256: 'a'.repeat(64) });
  });

  it('reports every bad row with its line number, past a quoted note spanning two lines', () => {
    const p = plan('pipedrive-bad-rows.csv', { scopes: ['opens'] });
    expect(p.problems.map((x) => x.line)).toEqual([3, 6, 7]);
    expect(p.problems[0]!.reason).toMatch(/no "@"/);
    expect(p.problems[1]!.reason).toMatch(/unknown marketing status "Maybe"/);
    expect(p.problems[2]!.reason).toMatch(/2 fields where the header has 4/);
    // the good rows were understood (and are still not recorded: see below)
    expect(p.events.map((e) => [e.address, e.importLine])).toEqual([
      ['jo@customer.example', 2],
      ['lee@customer.example', 4],
    ]);
  });

  it('an unknown layout is one problem on line 1', () => {
    const p = planImport({ bytes: Buffer.from('name,phone\nx,1\n'), recordedBy: 'ops', now: NOW });
    expect(p.problems).toEqual([{ line: 1, reason: expect.stringMatching(/unknown column layout/) as string }]);
  });
});

describe('import and export against a real consent.db', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let store: SqliteConsentStore;
  beforeEach(async () => {
    tmp = await makeTempDir();
    store = new SqliteConsentStore(tmp.path, { now: () => NOW });
  });
  afterEach(async () => {
    await store.close();
    await tmp.cleanup();
  });

  it('a file with bad rows records nothing, and says so line by line', async () => {
    const report = await importConsent(store, plan('pipedrive-bad-rows.csv', { scopes: ['opens'] }), { file: 'pipedrive-bad-rows.csv', dryRun: false });
    expect(report.ok).toBe(false);
    expect(report.text).toMatch(/^line 3: .*$/m);
    expect(report.text).toMatch(/^line 6: .*$/m);
    expect(report.text).toMatch(/^line 7: .*$/m);
    expect(report.text).toMatch(/3 bad rows; nothing was recorded/);
    expect(await store.list()).toEqual([]);
  });

  it('a dry run of a good file records nothing; the real run records every row with file hash and line', async () => {
    const p = plan('pipedrive-persons.csv', { scopes: ['opens', 'clicks'] });
    const dry = await importConsent(store, p, { file: 'x.csv', dryRun: true });
    expect(dry.text).toMatch(/dry run: every row is valid; would record 2 events \(1 grant, 1 withdrawal\), 2 rows without a consent statement skipped/);
    expect(await store.list()).toEqual([]);
    const real = await importConsent(store, p, { file: 'x.csv', dryRun: false });
    expect(real.recorded).toHaveLength(2);
    const frank = await store.show('frank@customer.example');
    expect(frank.consent).toEqual({ opens: true, clicks: true });
    expect(frank.history[0]).toMatchObject({ method: 'import', importSha256: p.sha256, importLine: 2 });
  });

  it('recordMany is all or nothing even when the store itself refuses a row', async () => {
    await expect(
      store.recordMany([
        { address: 'ok@example.com', action: 'grant', scopes: ['opens'], source: 'x' },
        { address: 'ok2@example.com', action: 'grant', scopes: ['opens'], source: 'x', wordingSha256: 'not a hash', wordingVersion: 'v1' },
      ]),
    ).rejects.toMatchObject({ code: 'USAGE' });
    expect(await store.list()).toEqual([]);
  });

  it('export as CSV reads back through import into another store, domain records and wording included', async () => {
    await store.record({
      address: '@customer.example',
      action: 'grant',
      scopes: ['opens', 'clicks'],
      source: 'contract 2026-17',
      at: '2026-01-01',
      wordingVersion: 'DPA annex v2',
      wordingSha256: 'b'.repeat(64),
    });
    await store.record({ address: 'zoe@customer.example', action: 'withdraw', scopes: ['clicks'], source: 'reply "stop", with a comma', at: '2026-02-01' });
    await store.record({ address: '=cmd@evil.example', action: 'grant', scopes: ['clicks'], source: '=HYPERLINK("x")', at: '2026-02-02' });
    const csv = await exportConsent(store, 'csv');
    expect(csv.split('\r\n')[0]).toBe('address,action,scopes,source,method,evidence,recorded_by,at,until,wording_version,wording_sha256,import_sha256,import_line');
    // a spreadsheet must not run a value as a formula
    expect(csv).toContain(`'=HYPERLINK`);
    const other = await makeTempDir();
    const copy = new SqliteConsentStore(other.path, { now: () => NOW });
    try {
      const p = planImport({ bytes: Buffer.from(csv), recordedBy: 'ops', now: NOW });
      expect(p.problems).toEqual([]);
      await importConsent(copy, p, { file: 'export.csv', dryRun: false });
      const strip = (s: Awaited<ReturnType<typeof store.list>>) =>
        s.map((x) => ({ address: x.address, consent: x.consent, history: x.history.map((e) => [e.action, e.scopes, e.source, e.at, e.wordingVersion, e.wordingSha256]) }));
      expect(strip(await copy.list())).toEqual(strip(await store.list()));
      const json = JSON.parse(await exportConsent(copy, 'json')) as { records: { address: string; consent: unknown }[] };
      expect(json.records.find((r) => r.address === 'zoe@customer.example')?.consent).toEqual({ opens: true, clicks: false });
    } finally {
      await copy.close();
      await other.cleanup();
    }
  });
});
