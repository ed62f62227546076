/**
 * Consent over SMTP: the relay on a loopback port, a recording upstream, a real consent.db that
 * the CLI's functions write while the relay serves (as an operator would).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { grantConsent, withdrawConsent } from '../../src/consent/commands.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import { decodedText } from '../helpers/mime.js';
import { relayConfig, send, startTestRelay } from '../helpers/relay.js';
import type { RecordingUpstream } from '../helpers/upstream.js';
import { useRelayScene } from '../helpers/scene.js';

const MAILCHIMP = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));
const PIXEL = 'list-manage.com/track/open.php';
const CLICK = 'list-manage.com/track/click';

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const toClose: Array<() => Promise<void>> = [];
useRelayScene((s) => ({ tmp, up } = s), toClose);

async function relay() {
  const r = await startTestRelay(relayConfig(tmp.path, up.port));
  toClose.push(() => r.close());
  return r;
}

/** What an operator's command does: open the store, record, close. */
async function operator(fn: (store: SqliteConsentStore) => Promise<unknown>): Promise<void> {
  const store = new SqliteConsentStore(tmp.path);
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

async function lastCopy(n: number): Promise<string> {
  const got = await up.waitFor(n, 5000);
  return decodedText(got[n - 1]!.raw);
}

describe('consent changes reach the relay while it serves', () => {
  it('a withdrawal takes effect for the next message', async () => {
    await operator((s) => grantConsent(s, { address: 'alice@example.org', scopes: ['opens', 'clicks'], source: 'form' }));
    const r = await relay();
    expect((await send(r.port, 'sales@example.com', ['alice@example.org'], MAILCHIMP)).code).toBe(250);
    const before = await lastCopy(1);
    expect(before).toContain(PIXEL);
    expect(before).toContain(CLICK);

    await operator((s) => withdrawConsent(s, { address: 'Alice@Example.org' }));
    expect((await send(r.port, 'sales@example.com', ['alice@example.org'], MAILCHIMP)).code).toBe(250);
    const after = await lastCopy(2);
    expect(after).not.toContain(PIXEL);
    expect(after).not.toContain(CLICK);
  });

  it('a grant that expires stops covering the next message', async () => {
    const until = new Date(Date.now() + 1500).toISOString();
    await operator((s) => grantConsent(s, { address: 'bob@example.org', scopes: ['opens', 'clicks'], source: 'trial', until }));
    const r = await relay();
    expect((await send(r.port, 'sales@example.com', ['bob@example.org'], MAILCHIMP)).code).toBe(250);
    expect(await lastCopy(1)).toContain(PIXEL);
    await new Promise((res) => setTimeout(res, Math.max(0, Date.parse(until) - Date.now()) + 100));
    expect((await send(r.port, 'sales@example.com', ['bob@example.org'], MAILCHIMP)).code).toBe(250);
    expect(await lastCopy(2)).not.toContain(PIXEL);
  });

  it("a domain grant covers the domain; a colleague's individual withdrawal still wins", async () => {
    await operator(async (s) => {
      await grantConsent(s, { address: '@customer.example', scopes: ['opens', 'clicks'], source: 'customer contract 2026-17' });
      await withdrawConsent(s, { address: 'carol@customer.example', scopes: ['opens'] });
    });
    const r = await relay();
    expect((await send(r.port, 'sales@example.com', ['dave@customer.example', 'carol@customer.example', 'erin@elsewhere.example'], MAILCHIMP)).code).toBe(250);
    const got = await up.waitFor(3, 5000);
    const byTo = new Map(await Promise.all(got.map(async (g) => [g.to.join(','), await decodedText(g.raw)] as const)));
    // dave: the contract's full consent; carol: clicks only (opens withdrawn); erin: nothing
    expect(byTo.get('dave@customer.example')).toContain(PIXEL);
    expect(byTo.get('dave@customer.example')).toContain(CLICK);
    expect(byTo.get('carol@customer.example')).not.toContain(PIXEL);
    expect(byTo.get('carol@customer.example')).toContain(CLICK);
    expect(byTo.get('erin@elsewhere.example')).not.toContain(PIXEL);
    expect(byTo.get('erin@elsewhere.example')).not.toContain(CLICK);
  });
});

describe('a withdrawal reaches copies waiting in the spool', () => {
  it('the spooled copy is filtered again under the lesser consent before its next attempt, and the audit log says so', async () => {
    await operator(async (s) => {
      await grantConsent(s, { address: 'full@example.org', scopes: ['opens', 'clicks'], source: 'form' });
    });
    let soft = true;
    up.setBehaviour((st) => (soft && st.stage === 'rcpt' && st.address === 'full@example.org' ? { code: 451, message: '4.2.0 mailbox busy' } : 'accept'));
    const r = await startTestRelay(relayConfig(tmp.path, up.port, { spool: { retryInitial: '1500ms', retryMax: '1500ms', scanInterval: '100ms' } }));
    toClose.push(() => r.close());
    expect((await send(r.port, 'sales@example.com', ['full@example.org', 'none@example.org'], MAILCHIMP)).code).toBe(250);
    const [entry] = await r.spool.list();
    expect(entry!.meta.consentClass).toBe('opens,clicks');
    expect(decodedTextSync(await r.spool.get(entry!.id))).toContain(PIXEL);

    // alice withdraws while her copy (with every tracker: full consent) waits
    await operator((s) => withdrawConsent(s, { address: 'full@example.org' }));
    soft = false;
    const got = await up.waitFor(2, 10_000);
    const late = got.find((g) => g.to.join() === 'full@example.org')!;
    const text = await decodedText(late.raw);
    expect(text).not.toContain(PIXEL);
    expect(text).not.toContain(CLICK);
    await expect.poll(async () => (await r.spool.list()).length, { timeout: 5000 }).toBe(0);

    const { SqliteAuditLog } = await import('../../src/audit/sqlite.js');
    const log = new SqliteAuditLog(tmp.path);
    try {
      // the delivery is recorded just after the entry leaves the spool
      await expect.poll(async () => (await log.list({ recipient: 'full@example.org', type: 'delivered-from-spool' })).length, { timeout: 5000 }).toBe(1);
      const rows = await log.list({ recipient: 'full@example.org' });
      const refiltered = rows.find((e) => e.type === 'spool-refiltered');
      expect(refiltered).toMatchObject({ previousClass: 'opens,clicks', consentClass: '' });
      const delivered = rows.find((e) => e.type === 'delivered-from-spool');
      expect(delivered).toBeDefined();
      expect(refiltered!.id).toBeLessThan(delivered!.id);
    } finally {
      await log.close();
    }
  });
});

function decodedTextSync(m: { raw: Buffer } | null): string {
  return m ? m.raw.toString('latin1').replace(/=\r\n/g, '').replace(/=3D/g, '=') : '';
}
