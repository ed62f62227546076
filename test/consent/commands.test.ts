import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { grantConsent, listConsent, parseScopes, showConsent, withdrawConsent } from '../../src/consent/commands.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import { RelayError } from '../../src/errors.js';
import { makeTempDir } from '../helpers/tmpdir.js';

describe('parseScopes', () => {
  it.each([
    ['opens', ['opens']],
    ['clicks', ['clicks']],
    ['opens,clicks', ['opens', 'clicks']],
    ['clicks, opens', ['opens', 'clicks']],
    ['CLICKS,clicks', ['clicks']],
    ['all', ['opens', 'clicks']],
  ])('%j → %j', (text, expected) => {
    expect(parseScopes(text)).toEqual(expected);
  });

  it.each([
    ['', /no consent scope given/],
    [' , ', /no consent scope given/],
    ['open', /unknown consent scope "open" \(did you mean "opens"\?\); known scopes: opens, clicks, or "all"/],
    ['opens,tracking', /unknown consent scope "tracking"; known scopes/],
  ])('%j → USAGE error', (text, message) => {
    let err: unknown;
    try {
      parseScopes(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('USAGE');
    expect((err as RelayError).message).toMatch(message);
  });
});

describe('consent commands', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let store: SqliteConsentStore;
  const now = new Date('2026-10-15T12:00:00.000Z');
  beforeEach(async () => {
    tmp = await makeTempDir();
    store = new SqliteConsentStore(tmp.path, { now: () => now });
  });
  afterEach(async () => {
    await store.close();
    await tmp.cleanup();
  });

  it('grant, withdraw, show and list survive reopening the store', async () => {
    await grantConsent(store, {
      address: 'Alice@Example.com',
      scopes: parseScopes('opens,clicks'),
      source: 'webinar form',
      evidence: 'form v3, row 17',
      recordedBy: 'ops',
      at: '2026-10-01T09:00:00Z',
      until: '2027-10-01',
    });
    await grantConsent(store, { address: 'bob@example.org', scopes: ['clicks'], source: 'crm import', recordedBy: 'import', at: '2026-10-02T09:00:00Z' });
    // withdrawal: only the address
    const w = await withdrawConsent(store, { address: 'alice@example.com', recordedBy: 'ops', at: '2026-10-03T09:00:00Z' });
    expect(w.scopes).toEqual(['opens', 'clicks']);
    expect(w.source).toBe('withdrawal');
    expect(w.method).toBe('cli');
    await grantConsent(store, { address: 'alice@example.com', scopes: ['clicks'], source: 'preference centre', recordedBy: 'web', at: '2026-10-04T09:00:00Z' });
    await store.close();
    store = new SqliteConsentStore(tmp.path, { now: () => now });

    expect(await showConsent(store, 'ALICE@example.com')).toBe(
      [
        'alice@example.com: clicks',
        '  opens:  not granted (withdrawn 2026-10-03T09:00:00.000Z, event #3)',
        '  clicks: granted 2026-10-04T09:00:00.000Z (event #4)',
        '',
        'history (oldest first):',
        '  #  at                        action    scopes        until                     source             method  recorded by  evidence         wording',
        '  1  2026-10-01T09:00:00.000Z  grant     opens,clicks  2027-10-01T00:00:00.000Z  webinar form       cli     ops          form v3, row 17  -',
        '  3  2026-10-03T09:00:00.000Z  withdraw  opens,clicks  -                         withdrawal         cli     ops          -                -',
        '  4  2026-10-04T09:00:00.000Z  grant     clicks        -                         preference centre  cli     web          -                -',
        '',
      ].join('\n'),
    );
    expect(await listConsent(store)).toBe(
      ['address            consent  since                     events', 'alice@example.com  clicks   2026-10-04T09:00:00.000Z  3', 'bob@example.org    clicks   2026-10-02T09:00:00.000Z  1', ''].join(
        '\n',
      ),
    );
  });

  it('shows an unknown address as no consent, and an empty store as such', async () => {
    expect(await showConsent(store, 'nobody@example.com')).toBe('nobody@example.com: none\n  no consent recorded (no record means no consent)\n');
    expect(await listConsent(store)).toBe('no consent recorded\n');
  });

  it('shows an expired grant as expired', async () => {
    await grantConsent(store, { address: 'c@example.com', scopes: ['opens'], source: 'form', at: '2026-01-01', until: '2026-02-01' });
    expect(await showConsent(store, 'c@example.com')).toContain('opens:  not granted (grant of 2026-01-01T00:00:00.000Z expired 2026-02-01T00:00:00.000Z, event #1)');
  });

  it('scope-specific withdrawal leaves the other scope', async () => {
    await grantConsent(store, { address: 'd@example.com', scopes: ['opens', 'clicks'], source: 'form', at: '2026-01-01' });
    await withdrawConsent(store, { address: 'd@example.com', scopes: ['opens'] });
    expect((await store.lookup(['d@example.com'])).get('d@example.com')).toEqual({ opens: false, clicks: true });
  });

  it('escapes control characters in free text so a report cannot forge lines', async () => {
    await grantConsent(store, { address: 'e@example.com', scopes: ['opens'], source: 'form\nfake row\u001b[2J', at: '2026-01-01' });
    const out = await showConsent(store, 'e@example.com');
    expect(out).toContain('form\\nfake row\\u001b[2J');
    expect(out).not.toContain('\u001b');
  });

  it('defaults recordedBy to the operating-system user', async () => {
    const e = await grantConsent(store, { address: 'f@example.com', scopes: ['opens'], source: 'form' });
    expect(e.recordedBy).not.toBe('');
    expect(e.recordedBy).not.toBe('unknown');
  });
});
