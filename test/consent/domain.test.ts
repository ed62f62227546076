import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { showConsent } from '../../src/consent/commands.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import type { NewConsentEvent } from '../../src/consent/store.js';
import { FULL_CONSENT, NO_CONSENT } from '../../src/rewrite/types.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const NOW = new Date('2026-11-30T12:00:00.000Z');
const DOMAIN = '@customer.example';
const ALICE = 'alice@customer.example';

describe('domain-level consent (real SQLite file)', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let store: SqliteConsentStore;
  const rec = (address: string, e: Omit<NewConsentEvent, 'address' | 'source'>) => store.record({ address, source: 'test', ...e });
  beforeEach(async () => {
    tmp = await makeTempDir();
    store = new SqliteConsentStore(tmp.path, { now: () => NOW });
  });
  afterEach(async () => {
    await store.close();
    await tmp.cleanup();
  });

  it('a domain grant covers everyone at the domain, and nobody elsewhere or at a subdomain', async () => {
    await rec(DOMAIN, { action: 'grant', scopes: ['opens', 'clicks'], at: '2026-01-01' });
    const m = await store.lookup([ALICE, 'bob@CUSTOMER.example', 'carol@other.example', 'dan@eu.customer.example']);
    expect(m.get(ALICE)).toEqual(FULL_CONSENT);
    expect(m.get('bob@customer.example')).toEqual(FULL_CONSENT);
    expect(m.get('carol@other.example')).toEqual(NO_CONSENT);
    expect(m.get('dan@eu.customer.example')).toEqual(NO_CONSENT);
  });

  it('an individual withdrawal wins over a domain grant, even a newer one', async () => {
    await rec(ALICE, { action: 'withdraw', scopes: ['clicks'], at: '2026-01-01' });
    await rec(DOMAIN, { action: 'grant', scopes: ['opens', 'clicks'], at: '2026-06-01' });
    expect((await store.lookup([ALICE])).get(ALICE)).toEqual({ opens: true, clicks: false });
    const text = await showConsent(store, ALICE);
    expect(text).toMatch(/clicks: not granted: withdrawn 2026-01-01T00:00:00\.000Z \(event #1\); granted 2026-06-01T00:00:00\.000Z for @customer\.example \(event #2\)/);
    expect(text).toContain('domain-wide records for @customer.example');
  });

  it('a domain withdrawal wins over an individual grant (the least permissive record)', async () => {
    await rec(ALICE, { action: 'grant', scopes: ['opens', 'clicks'], at: '2026-03-01' });
    await rec(DOMAIN, { action: 'withdraw', scopes: ['opens'], at: '2026-01-01' });
    expect((await store.lookup([ALICE])).get(ALICE)).toEqual({ opens: false, clicks: true });
  });

  it('an expired individual grant is silence, not refusal: the domain grant still covers them', async () => {
    await rec(ALICE, { action: 'grant', scopes: ['opens'], at: '2026-01-01', until: '2026-02-01' });
    await rec(DOMAIN, { action: 'grant', scopes: ['clicks'], at: '2026-01-01' });
    expect((await store.lookup([ALICE])).get(ALICE)).toEqual({ opens: false, clicks: true });
  });

  it('an expired domain grant no longer covers anyone', async () => {
    await rec(DOMAIN, { action: 'grant', scopes: ['opens', 'clicks'], at: '2026-01-01', until: '2026-11-30T11:59:59Z' });
    expect((await store.lookup([ALICE])).get(ALICE)).toEqual(NO_CONSENT);
  });

  it('keeps the wording shown and the import provenance with each event', async () => {
    const e = await store.record({
      address: ALICE,
      action: 'grant',
      scopes: ['opens'],
      source: 'form',
      wordingVersion: 'form v3',
      wordingSha256: 'C'.repeat(64),
      importSha256: 'd'.repeat(64),
      importLine: 17,
    });
    expect(e).toMatchObject({ wordingVersion: 'form v3', wordingSha256: 'c'.repeat(64), importSha256: 'd'.repeat(64), importLine: 17 });
    await store.close();
    store = new SqliteConsentStore(tmp.path, { now: () => NOW });
    expect((await store.show(ALICE)).history[0]).toMatchObject({ wordingVersion: 'form v3', wordingSha256: 'c'.repeat(64), importLine: 17 });
    await expect(store.record({ address: ALICE, action: 'grant', scopes: ['opens'], source: 'form', wordingSha256: 'e'.repeat(64) })).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('upgrading a consent.db written before domains and wording', () => {
  it('keeps every event and its id, and the tables stay append-only', async () => {
    const tmp = await makeTempDir();
    try {
      const { default: Database } = await import('better-sqlite3');
      const { join } = await import('node:path');
      const { closeSync, openSync } = await import('node:fs');
      const file = join(tmp.path, 'consent.db');
      closeSync(openSync(file, 'a', 0o600));
      const old = new Database(file);
      old.exec(`CREATE TABLE consent_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        address TEXT NOT NULL CHECK (address = lower(trim(address)) AND address LIKE '%_@_%'),
        action TEXT NOT NULL CHECK (action IN ('grant', 'withdraw')), scopes TEXT NOT NULL CHECK (scopes <> ''),
        source TEXT NOT NULL, method TEXT NOT NULL, evidence TEXT, recorded_by TEXT NOT NULL, at TEXT NOT NULL, until TEXT,
        CHECK (until IS NULL OR action = 'grant'));
      CREATE INDEX consent_events_address ON consent_events (address, at, id);
      CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events BEGIN SELECT RAISE(ABORT, 'append-only'); END;
      CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events BEGIN SELECT RAISE(ABORT, 'append-only'); END;
      INSERT INTO consent_events (address, action, scopes, source, method, evidence, recorded_by, at, until)
        VALUES ('x@example.com', 'grant', 'opens,clicks', 'form', 'cli', NULL, 'ops', '2026-01-01T00:00:00.000Z', NULL),
               ('x@example.com', 'withdraw', 'opens', 'withdrawal', 'cli', NULL, 'ops', '2026-02-01T00:00:00.000Z', NULL);
      PRAGMA user_version = 1;`);
      old.close();
      const store = new SqliteConsentStore(tmp.path, { now: () => NOW });
      try {
        const s = await store.show('x@example.com');
        expect(s.history.map((e) => [e.id, e.action, e.wordingVersion])).toEqual([
          [1, 'grant', null],
          [2, 'withdraw', null],
        ]);
        expect(s.consent).toEqual({ opens: false, clicks: true });
      } finally {
        await store.close();
      }
      const raw = new Database(file);
      try {
        expect(() => raw.prepare("UPDATE consent_events SET source = 'forged' WHERE id = 1").run()).toThrow(/append-only/);
        expect(() => raw.prepare("UPDATE consent_events SET address = 'y@example.com' WHERE id = 1").run()).toThrow(/append-only/);
        expect(() => raw.prepare('DELETE FROM consent_events WHERE id = 2').run()).toThrow(/append-only/);
      } finally {
        raw.close();
      }
    } finally {
      await tmp.cleanup();
    }
  });
});
