import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import { purgeExpired } from '../../src/rights/retention.js';
import { eraseSubject, erasureReceiptText, exportSubject, objectSubject, rectifySubject, subjectReport } from '../../src/rights/subject.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const RETENTION = { consentHistory: 1095 * 86_400_000, auditEvents: 730 * 86_400_000, addresses: 365 * 86_400_000, leftovers: 7 * 86_400_000 };
const ALICE = 'alice@example.org';

describe('data-subject requests on real SQLite files', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let consent: SqliteConsentStore;
  let audit: SqliteAuditLog;
  beforeEach(async () => {
    tmp = await makeTempDir();
    consent = new SqliteConsentStore(tmp.path);
    audit = new SqliteAuditLog(tmp.path);
  });
  afterEach(async () => {
    await audit.close();
    await consent.close();
    await tmp.cleanup();
  });

  /** Mail to alice as the pipeline records it: a finding and a delivery, under her pseudonym. */
  async function mailTo(address: string, queueId: string): Promise<void> {
    const h = audit.recipientHash(address);
    const at = new Date().toISOString();
    await audit.append(
      [
        {
          type: 'finding',
          at,
          queueId,
          consentClass: '',
          recipientHashes: [h],
          kind: 'open',
          technique: 'img',
          vendor: 'Mailchimp',
          ruleId: 'mailchimp.open',
          action: 'remove-element',
          redactedUrl: 'https://list-manage.com/track/open.php',
          count: 1,
        },
        {
          type: 'relayed',
          at,
          queueId,
          consentClass: '',
          recipientHashes: [h],
          messageId: '<m@x>',
          sender: 'sales@example.com',
          recipientCount: 1,
          upstream: '250 ok',
          rulesVersion: 'r1',
          mode: 'enforce',
          findingCount: 1,
        },
      ],
      [address],
    );
  }

  it('export lists consent history, every audit event about mail to them, do-not-contact state and retention', async () => {
    await consent.record({ address: ALICE, action: 'grant', scopes: ['clicks'], source: 'webinar form', wordingVersion: 'v3', wordingSha256: 'a'.repeat(64) });
    await consent.record({ address: '@example.org', action: 'grant', scopes: ['opens'], source: 'contract' });
    await mailTo(ALICE, 'Q1');
    await mailTo('bob@example.org', 'Q2');
    const x = await exportSubject(consent, audit, 'Alice@Example.org', RETENTION);
    expect(x.consent.current).toEqual({ opens: true, clicks: true });
    expect(x.consent.history).toHaveLength(1);
    expect(x.consent.domainHistory).toHaveLength(1);
    expect(x.auditEvents.map((r) => [r.type, r.queueId])).toEqual([
      ['finding', 'Q1'],
      ['relayed', 'Q1'],
    ]);
    expect(x.doNotContact).toBeNull();
    expect(x.retention.auditEvents).toBe('730 days');
    const text = subjectReport(x);
    expect(text).toContain('Data held about alice@example.org');
    expect(text).toContain('trackers removed: 1, vendors: Mailchimp');
    expect(text).toMatch(/finding +remove-element img Mailchimp https:\/\/list-manage\.com\/track\/open\.php \(message Q1\)/);
    expect(text).toContain('Do not contact\n  no objection recorded');
    // the request itself is on record, under her pseudonym
    const requests = await audit.list({ type: 'subject-request' });
    expect(requests).toEqual([expect.objectContaining({ request: 'export', receipt: x.receipt, recipientHashes: [audit.recipientHash(ALICE)] })]);
  });

  it('erase: nothing about the person is found afterwards; the audit events stay, counted, unlinked; the receipt names no one', async () => {
    await consent.record({ address: ALICE, action: 'grant', scopes: ['opens', 'clicks'], source: 'form' });
    await mailTo(ALICE, 'Q1');
    await mailTo(ALICE, 'Q2');
    const before = (await audit.list()).length;
    const r = await eraseSubject(consent, audit, ALICE);
    expect(r).toMatchObject({ consentEventsDeleted: 1, auditEventsUnlinked: 4, suppressionKeptAsHash: false });
    const receipt = erasureReceiptText(r);
    expect(receipt).not.toMatch(/alice|example\.org/i);
    expect(receipt).toContain(r.receipt);

    const x = await exportSubject(consent, audit, ALICE, RETENTION);
    expect(x.consent.history).toEqual([]);
    expect(x.auditEvents).toEqual([]);
    expect(x.doNotContact).toBeNull();
    expect(await audit.list({ recipient: ALICE })).toEqual([]);
    // every event is still there (plus the erasure's and the export's own records, which name no one)
    const after = await audit.list();
    expect(after.filter((e) => e.type === 'finding' || e.type === 'relayed')).toHaveLength(before);
    expect(after.filter((e) => e.type === 'subject-request').every((e) => e.recipientHashes.length === 0)).toBe(true);
    // the address is nowhere in either database file
    const { readFileSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    for (const f of readdirSync(tmp.path)) if (f.endsWith('.db') || f.endsWith('-wal')) expect(readFileSync(join(tmp.path, f)).includes(Buffer.from(ALICE)), f).toBe(false);
    // and the chain still verifies: erasure touched no chained row
    expect(await audit.verify()).toMatchObject({ ok: true });
    // new mail to the same address starts a new, unconnected pseudonym
    await mailTo(ALICE, 'Q3');
    expect((await audit.list({ recipient: ALICE })).map((e) => e.queueId)).toEqual(['Q3', 'Q3']);
  });

  it('an objector stays suppressed after erasure, by keyed hash only', async () => {
    const o = await objectSubject(consent, audit, ALICE, { source: 'phone call, ticket 7', recordedBy: 'ops' });
    expect(o.objection).toMatchObject({ address: ALICE, source: 'phone call, ticket 7' });
    expect((await consent.doNotContact(['ALICE@example.org'])).has('alice@example.org')).toBe(true);
    expect((await consent.lookup([ALICE])).get(ALICE)).toEqual({ opens: false, clicks: false });
    const r = await eraseSubject(consent, audit, ALICE);
    expect(r.suppressionKeptAsHash).toBe(true);
    expect((await consent.doNotContact([ALICE])).has(ALICE)).toBe(true);
    expect(await consent.objection(ALICE)).toMatchObject({ address: null, source: 'erased' });
  });

  it('rectify: consent history, objection and audit history follow the new address', async () => {
    await consent.record({ address: ALICE, action: 'grant', scopes: ['clicks'], source: 'form' });
    await mailTo(ALICE, 'Q1');
    await consent.object(ALICE, 'letter', 'ops');
    const r = await rectifySubject(consent, audit, ALICE, 'alice.smith@example.net');
    expect(r).toMatchObject({ consentEventsMoved: 1, auditHistoryMoved: true });
    const x = await exportSubject(consent, audit, 'alice.smith@example.net', RETENTION);
    expect(x.consent.history.map((e) => e.source)).toEqual(['form']);
    expect(x.auditEvents.filter((e) => e.type !== 'subject-request').map((e) => e.queueId)).toEqual(['Q1', 'Q1']);
    expect(x.doNotContact).toMatchObject({ address: 'alice.smith@example.net' });
    const old = await exportSubject(consent, audit, ALICE, RETENTION);
    expect(old.consent.history).toEqual([]);
    expect(old.auditEvents).toEqual([]);
    expect(old.doNotContact).toBeNull();
  });

  it('rectify of a sender: the clear sender follows, the chain verifies, and no other rename gets through', async () => {
    // mail the person sent: mailTo records sales@example.com as the sender
    await mailTo('bob@example.org', 'Q1');
    expect((await audit.verify()).ok).toBe(true);

    await rectifySubject(consent, audit, 'sales@example.com', 'sales.team@example.com');
    const v = await audit.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);

    const db = new Database(join(tmp.path, 'audit.db'));
    try {
      expect(db.prepare("SELECT sender FROM audit_events WHERE queue_id = 'Q1' AND type = 'relayed'").pluck().get()).toBe('sales.team@example.com');
      // a rename to an address that is not the same pseudonym is still refused by the trigger
      expect(() => db.prepare("UPDATE audit_events SET sender = 'someone.else@example.com' WHERE queue_id = 'Q1'").run()).toThrow(/append-only/);
    } finally {
      db.close();
    }
  });

  it('retention: expired consent histories, old audit events and unused addresses are purged; a grant in force is kept', async () => {
    const longAgo = new Date(Date.now() - 4 * 365 * 86_400_000).toISOString();
    await consent.record({ address: 'old@example.org', action: 'grant', scopes: ['opens'], source: 'form', at: longAgo, until: new Date(Date.now() - 3.5 * 365 * 86_400_000).toISOString() });
    await consent.record({ address: 'kept@example.org', action: 'grant', scopes: ['opens'], source: 'form', at: longAgo });
    await consent.record({ address: 'recent@example.org', action: 'withdraw', scopes: ['opens'], source: 'w' });
    const h = audit.recipientHash('gone@example.org');
    await audit.append(
      [
        {
          type: 'relayed',
          at: longAgo,
          queueId: 'OLD',
          consentClass: '',
          recipientHashes: [h],
          messageId: null,
          sender: 's@example.com',
          recipientCount: 1,
          upstream: '250',
          rulesVersion: 'r',
          mode: 'enforce',
          findingCount: 0,
        },
      ],
      ['gone@example.org'],
    );
    await mailTo('fresh@example.org', 'NEW');
    const r = await purgeExpired({ consent, audit, dataDir: tmp.path }, RETENTION);
    // gone@ and the old event's sender (senders have pseudonyms too); fresh@ and sales@ are recent
    expect(r).toMatchObject({ consentEvents: 1, auditEvents: 1, addresses: 2 });
    expect((await consent.list()).map((s) => s.address)).toEqual(['kept@example.org', 'recent@example.org']);
    expect((await audit.list()).map((e) => e.queueId)).toEqual(['NEW', 'NEW', '']);
    expect((await audit.list()).at(-1)).toMatchObject({ type: 'retention-purged', throughSeq: 1, events: 1 });
    expect((await audit.verify()).ok).toBe(true);
    expect(audit.subjectHash('gone@example.org')).toBeNull();
    expect(audit.subjectHash('fresh@example.org')).not.toBeNull();
  });
});
