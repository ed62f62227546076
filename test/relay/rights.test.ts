/**
 * Data-subject rights over SMTP: an objection refuses the recipient at RCPT (550 5.7.1 with the
 * configured text), or in warn mode lets it through and records it; real SQLite files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import { objectSubject } from '../../src/rights/subject.js';
import { relayConfig, send, startTestRelay } from '../helpers/relay.js';
import type { RecordingUpstream } from '../helpers/upstream.js';
import { useRelayScene } from '../helpers/scene.js';
import { RawSmtp } from '../helpers/rawSmtp.js';

const MAILCHIMP = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const toClose: Array<() => Promise<void>> = [];
useRelayScene((s) => ({ tmp, up } = s), toClose);

async function object(address: string): Promise<void> {
  const consent = new SqliteConsentStore(tmp.path);
  const audit = new SqliteAuditLog(tmp.path);
  try {
    await objectSubject(consent, audit, address, { source: 'letter of 2026-11-29', recordedBy: 'ops' });
  } finally {
    await audit.close();
    await consent.close();
  }
}

describe('do-not-contact at RCPT', () => {
  it('an objector is refused at RCPT with 550 5.7.1 and the configured text; the other recipient gets the mail', async () => {
    const r = await startTestRelay(relayConfig(tmp.path, up.port, { rights: { doNotContact: { mode: 'reject', reply: 'this person asked us not to write; see https://example.com/privacy' } } }));
    toClose.push(() => r.close());
    // the objection is recorded while the relay serves, as an operator would
    await object('Objector@Example.org');
    const c = await RawSmtp.open(r.port);
    try {
      await c.reply();
      await c.command('EHLO client.example');
      expect((await c.command('MAIL FROM:<sales@example.com>')).code).toBe(250);
      expect((await c.command('RCPT TO:<objector@example.org>')).text).toBe('550 5.7.1 this person asked us not to write; see https://example.com/privacy');
      expect((await c.command('RCPT TO:<other@example.org>')).code).toBe(250);
      await c.command('QUIT');
    } finally {
      c.close();
    }
    const res = await send(r.port, 'sales@example.com', ['objector@example.org', 'other@example.org'], MAILCHIMP);
    expect(res.code).toBe(250);
    expect(res.rejected).toEqual(['objector@example.org']);
    const got = await up.waitFor(1, 5000);
    expect(got.map((g) => g.to)).toEqual([['other@example.org']]);
    await new Promise((res2) => setTimeout(res2, 300));
    expect(up.received).toHaveLength(1);
  });

  it('warn mode: the objector is accepted, and the audit log records it before delivery', async () => {
    await object('objector@example.org');
    const r = await startTestRelay(relayConfig(tmp.path, up.port, { rights: { doNotContact: { mode: 'warn' } } }));
    toClose.push(() => r.close());
    expect((await send(r.port, 'sales@example.com', ['objector@example.org'], MAILCHIMP)).code).toBe(250);
    await up.waitFor(1, 5000);
    const log = new SqliteAuditLog(tmp.path);
    try {
      const rows = await log.list({ recipient: 'objector@example.org' });
      const warn = rows.find((e) => e.type === 'do-not-contact');
      expect(warn).toMatchObject({ mode: 'warn' });
      const relayed = rows.find((e) => e.type === 'relayed');
      expect(relayed?.queueId).toBe(warn?.queueId);
      expect(warn!.id).toBeLessThan(relayed!.id);
    } finally {
      await log.close();
    }
  });
});
