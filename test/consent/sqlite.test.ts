import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { validateAddress } from '../../src/consent/address.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import type { NewConsentEvent } from '../../src/consent/store.js';
import { RelayError } from '../../src/errors.js';
import type { Consent } from '../../src/rewrite/types.js';
import { FULL_CONSENT, NO_CONSENT } from '../../src/rewrite/types.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const NOW = new Date('2026-10-15T12:00:00.000Z');
const A = 'alice@example.com';

async function rejection(p: Promise<unknown>): Promise<RelayError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError);
    return err as RelayError;
  }
  throw new Error('expected a RelayError');
}

type Ev = Omit<NewConsentEvent, 'address' | 'source'> & { source?: string };
const grant = (scopes: Ev['scopes'], at: string, until?: string): Ev => ({ action: 'grant', scopes, at, ...(until ? { until } : {}) });
const withdraw = (scopes: Ev['scopes'], at: string): Ev => ({ action: 'withdraw', scopes, at });

describe('SqliteConsentStore', () => {
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

  // per scope, the latest event naming it decides; expired grants do not count
  const derivations: [string, Ev[], Consent][] = [
    ['no events', [], NO_CONSENT],
    ['one grant, both scopes', [grant(['opens', 'clicks'], '2026-01-01')], FULL_CONSENT],
    ['grant then withdraw all', [grant(['opens', 'clicks'], '2026-01-01'), withdraw(['opens', 'clicks'], '2026-02-01')], NO_CONSENT],
    ['withdraw one scope only', [grant(['opens', 'clicks'], '2026-01-01'), withdraw(['opens'], '2026-02-01')], { opens: false, clicks: true }],
    ['withdraw then re-grant', [withdraw(['clicks'], '2026-01-01'), grant(['clicks'], '2026-03-01')], { opens: false, clicks: true }],
    ['expired grant', [grant(['opens', 'clicks'], '2026-01-01', '2026-06-30')], NO_CONSENT],
    ['grant expiring in the future', [grant(['opens'], '2026-01-01', '2027-01-01')], { opens: true, clicks: false }],
    ['expired wide grant, newer open-ended narrow grant', [grant(['opens', 'clicks'], '2026-01-01', '2026-06-30'), grant(['clicks'], '2026-07-01')], { opens: false, clicks: true }],
    ['order is by time of the event, not of recording', [withdraw(['opens', 'clicks'], '2026-05-01'), grant(['opens', 'clicks'], '2026-01-01')], NO_CONSENT],
  ];
  it.each(derivations)('%s', async (_name, events, expected) => {
    for (const e of events) await store.record({ source: 'test form', ...e, address: A });
    expect((await store.lookup([A])).get(A)).toEqual(expected);
    expect((await store.show(A)).consent).toEqual(expected);
  });

  it('keeps state and history across reopening the file', async () => {
    await store.record({ address: ' Alice@Example.COM ', action: 'grant', scopes: ['opens', 'clicks'], source: 'webinar form', evidence: 'ticket 42', recordedBy: 'ops', at: '2026-01-01T00:00:00Z' });
    await store.record({ address: A, action: 'withdraw', scopes: ['opens'], source: 'email reply', at: '2026-02-01T00:00:00Z' });
    await store.close();
    store = new SqliteConsentStore(tmp.path, { now: () => NOW });
    const state = await store.show('ALICE@example.com');
    expect(state.address).toBe(A);
    expect(state.consent).toEqual({ opens: false, clicks: true });
    expect(state.history.map((e) => [e.action, e.scopes, e.source, e.evidence, e.recordedBy, e.method, e.at])).toEqual([
      ['grant', ['opens', 'clicks'], 'webinar form', 'ticket 42', 'ops', 'api', '2026-01-01T00:00:00.000Z'],
      ['withdraw', ['opens'], 'email reply', null, 'unknown', 'api', '2026-02-01T00:00:00.000Z'],
    ]);
    expect((await store.list()).map((s) => [s.address, s.consent])).toEqual([[A, { opens: false, clicks: true }]]);
  });

  it('is append-only: UPDATE and DELETE raise', async () => {
    await store.record({ address: A, action: 'grant', scopes: ['opens'], source: 'form' });
    const raw = new Database(join(tmp.path, 'consent.db'));
    try {
      expect(() => raw.prepare("UPDATE consent_events SET action = 'withdraw'").run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM consent_events').run()).toThrow(/append-only/);
      expect(raw.prepare('SELECT count(*) AS n FROM consent_events').get()).toEqual({ n: 1 });
    } finally {
      raw.close();
    }
  });

  it('looks up 1000 addresses in one query, index-assisted', async () => {
    const addresses = Array.from({ length: 1000 }, (_, i) => `user${i}@Example.org`);
    for (let i = 0; i < 1000; i += 3) await store.record({ address: addresses[i]!, action: 'grant', scopes: ['clicks'], source: 'import' });
    const map = await store.lookup([...addresses, 'not an address', '']);
    expect(map.size).toBe(1002);
    expect(map.get('user0@example.org')).toEqual({ opens: false, clicks: true });
    expect(map.get('user1@example.org')).toBe(NO_CONSENT);
    expect(map.get('not an address')).toBe(NO_CONSENT);
    expect([...map.values()].filter((c) => c.clicks)).toHaveLength(334);

    const raw = new Database(join(tmp.path, 'consent.db'), { readonly: true });
    try {
      const plan = raw
        .prepare('EXPLAIN QUERY PLAN SELECT * FROM consent_events WHERE address IN (SELECT value FROM json_each(?)) ORDER BY address, at, id')
        .all('[]')
        .map((r) => (r as { detail: string }).detail)
        .join('\n');
      expect(plan).toMatch(/USING INDEX consent_events_address/);
    } finally {
      raw.close();
    }
  });

  const invalid: [string, Partial<NewConsentEvent>, RegExp][] = [
    ['no @', { address: 'alice.example.com' }, /no "@"/],
    ['"@" alone (neither a mailbox nor a domain)', { address: '@' }, /invalid domain/],
    ['a domain record with a second "@"', { address: '@a@example.com' }, /invalid domain/],
    ['display name pasted', { address: 'Alice <alice@example.com>' }, /spaces|angle brackets/],
    ['angle brackets', { address: '<alice@example.com>' }, /angle brackets/],
    ['bad domain', { address: 'alice@exa mple.com' }, /not a domain name/],
    ['unknown scope', { scopes: ['opens', 'reads'] as unknown as NewConsentEvent['scopes'] }, /unknown consent scope "reads"/],
    ['no scopes', { scopes: [] }, /at least one consent scope/],
    ['grant without source', { source: '  ' }, /needs a source/],
    ['until not a date', { until: 'next year' }, /"until" must be an ISO-8601/],
    ['until before at', { at: '2026-05-01', until: '2026-04-01' }, /not after the time of the grant/],
    ['until on a withdrawal', { action: 'withdraw', until: '2027-01-01' }, /grants only/],
    ['at in the future', { at: '2027-01-01' }, /in the future/],
  ];
  it.each(invalid)('rejects %s with USAGE', async (_name, override, message) => {
    const err = await rejection(store.record({ address: A, action: 'grant', scopes: ['opens'], source: 'form', ...override }));
    expect(err.code).toBe('USAGE');
    expect(err.message).toMatch(message);
    expect(await store.list()).toEqual([]);
  });

  it.each([
    ['  Bob@Example.COM ', 'bob@example.com'],
    ['root@localhost', 'root@localhost'],
    ['x@[192.0.2.1]', 'x@[192.0.2.1]'],
    ['jörg@bücher.example', 'jörg@bücher.example'],
  ])('normalises %j to %j', (input, expected) => {
    expect(validateAddress(input)).toBe(expected);
  });
});

describe('SqliteConsentStore when the file is locked', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTempDir();
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('a write waiting on another writer → CONSENT_STORE_UNAVAILABLE, then works once released', async () => {
    const store = new SqliteConsentStore(tmp.path, { busyTimeoutMs: 50 });
    const locker = new Database(join(tmp.path, 'consent.db'));
    try {
      locker.exec('BEGIN EXCLUSIVE');
      const err = await rejection(store.record({ address: A, action: 'grant', scopes: ['opens'], source: 'form' }));
      expect(err.code).toBe('CONSENT_STORE_UNAVAILABLE');
      expect(err.temporary).toBe(true);
      expect(err.message).toMatch(/locked by another connection \(SQLITE_BUSY\).*retry/);
      // WAL: readers are not blocked by a writer, so RCPT-time lookups keep working
      expect((await store.lookup([A])).get(A)).toBe(NO_CONSENT);
      locker.exec('ROLLBACK');
      await store.record({ address: A, action: 'grant', scopes: ['opens'], source: 'form' });
    } finally {
      locker.close();
      await store.close();
    }
  });

  it('opening a file held exclusively in rollback-journal mode → CONSENT_STORE_UNAVAILABLE', async () => {
    const locker = new Database(join(tmp.path, 'consent.db'));
    try {
      locker.exec('CREATE TABLE other (x); BEGIN EXCLUSIVE; INSERT INTO other VALUES (1);');
      let err: unknown;
      try {
        new SqliteConsentStore(tmp.path, { busyTimeoutMs: 50 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RelayError);
      expect((err as RelayError).code).toBe('CONSENT_STORE_UNAVAILABLE');
      expect((err as RelayError).message).toMatch(/consent\.db is locked/);
    } finally {
      locker.close();
    }
  });

  it('a data dir that is a file → CONSENT_STORE_UNAVAILABLE naming the fix', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = join(tmp.path, 'data');
    writeFileSync(file, '');
    expect(() => new SqliteConsentStore(file)).toThrow(/consent store unavailable: data directory .* is not a directory; move the file away/);
  });

  it('use after close → RelayError, not a TypeError', async () => {
    const store = new SqliteConsentStore(tmp.path);
    await store.close();
    const err = await rejection(store.lookup([A]));
    expect(err.code).toBe('CONSENT_STORE_UNAVAILABLE');
  });
});
