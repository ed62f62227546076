/**
 * `subject rectify` of someone who also sent mail through the relay: their sent mail follows them
 * and the audit chain still verifies (it used to report every such row as a sender edit).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import { rectifySubject } from '../../src/rights/subject.js';
import { makeTempDir } from '../helpers/tmpdir.js';

it('rectify of a sender: the clear sender follows, the chain verifies, and no other rename gets through', async () => {
  const tmp = await makeTempDir();
  const consent = new SqliteConsentStore(tmp.path);
  const audit = new SqliteAuditLog(tmp.path);
  try {
    const h = audit.recipientHash('bob@example.org');
    const at = new Date().toISOString();
    await audit.append(
      [
        {
          type: 'relayed',
          at,
          queueId: 'Q1',
          consentClass: '',
          recipientHashes: [h],
          messageId: '<m@x>',
          sender: 'sales@example.com',
          recipientCount: 1,
          upstream: '250 ok',
          rulesVersion: 'r1',
          mode: 'enforce',
          findingCount: 0,
        },
      ],
      ['bob@example.org'],
    );
    expect((await audit.verify()).ok).toBe(true);

    await rectifySubject(consent, audit, 'sales@example.com', 'sales.team@example.com');
    const v = await audit.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);

    const db = new Database(join(tmp.path, 'audit.db'));
    try {
      expect(db.prepare("SELECT sender FROM audit_events WHERE queue_id = 'Q1'").pluck().get()).toBe('sales.team@example.com');
      // a rename to an address that is not the same pseudonym is still refused by the trigger
      expect(() => db.prepare("UPDATE audit_events SET sender = 'someone.else@example.com' WHERE queue_id = 'Q1'").run()).toThrow(/append-only/);
    } finally {
      db.close();
    }
  } finally {
    await audit.close();
    await consent.close();
    await tmp.cleanup();
  }
});
