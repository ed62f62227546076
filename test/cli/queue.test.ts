import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { Spool } from '../../src/delivery/spool.js';
import type { SpoolMeta } from '../../src/delivery/spool.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { cli, oneErrorLine } from './run.js';

const RAW = Buffer.from('Subject: private subject\r\n\r\nprivate body\r\n');
const LATER = '2099-01-01T06:00:00.000Z';

function meta(over: Partial<SpoolMeta> = {}): SpoolMeta {
  return {
    envelope: { from: 'a@example.com', to: ['b@example.org', 'c@example.org'] },
    consentClass: 'opens',
    messageId: '<m@example.com>',
    queueId: 'Q1',
    attempts: 3,
    firstAttemptAt: '2099-01-01T00:00:00.000Z',
    nextAttemptAt: LATER,
    lastError: '451 4.4.1 upstream unreachable: ECONNREFUSED',
    failures: [],
    ...over,
  };
}

let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
let spool: Spool;
beforeEach(async () => {
  tmp = await makeTempDir('consent-relay-cli-');
  data = join(tmp.path, 'data');
  spool = new Spool(data);
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('consent-relay queue', () => {
  it('list on a missing or empty spool', () => {
    const r = cli(['queue', 'list', '-d', data]);
    expect(r.status).toBe(0);
    expect(r.out).toBe('queue is empty\n');
    expect(cli(['queue', 'retry', 'all', '-d', data]).out).toBe('queue is empty: nothing to retry\n');
  });

  it('list, retry ID, retry all and drop ID over entries made with Spool.enqueue', async () => {
    const id1 = await spool.enqueue(meta(), RAW);
    const id2 = await spool.enqueue(meta({ consentClass: '', attempts: 1, lastError: null }), RAW);

    const l = cli(['queue', 'list', '-d', data]);
    expect(l.status).toBe(0);
    const lines = l.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +CLASS +RCPTS +ATTEMPTS +NEXT ATTEMPT +LAST ERROR$/);
    expect(lines[1]).toMatch(new RegExp(`^${id1} +opens +2 +3 +${LATER.replace(/\./g, '\\.')} +451 4\\.4\\.1 upstream unreachable`));
    expect(lines[2]).toMatch(new RegExp(`^${id2} +none +2 +1 +\\S+ +-$`));
    expect(lines[3]).toBe('2 entries');
    expect(l.out).not.toMatch(/private|@example/);

    const before = Date.now();
    const r1 = cli(['queue', 'retry', id1, '-d', data]);
    expect(r1.status).toBe(0);
    expect(r1.out).toBe(`entry ${id1} due now; a running relay retries at its next spool scan (every 5s)\n`);
    const due1 = Date.parse((await spool.get(id1))?.meta.nextAttemptAt ?? '');
    expect(due1).toBeGreaterThanOrEqual(before - 1000);
    expect(due1).toBeLessThanOrEqual(Date.now());
    expect((await spool.get(id2))?.meta.nextAttemptAt).toBe(LATER);
    expect((await spool.get(id1))?.raw.equals(RAW)).toBe(true);

    const all = cli(['queue', 'retry', 'all', '-d', data]);
    expect(all.out).toMatch(/^2 entries due now; /);
    expect(Date.parse((await spool.get(id2))?.meta.nextAttemptAt ?? '')).toBeLessThanOrEqual(Date.now());

    const d = cli(['queue', 'drop', id1, '-d', data]);
    expect(d.status).toBe(0);
    expect(d.out).toBe(`dropped entry ${id1}: it will not be delivered and no bounce is sent (recorded in the audit log)\n`);
    expect(await spool.get(id1)).toBeNull();
    expect((await spool.list()).map((e) => e.id)).toEqual([id2]);
    expect(cli(['queue', 'list', '-d', data]).out).toMatch(/\n1 entry\n$/);

    // the drop is on record: which entry, whose copy (hashed), after how many attempts
    const audit = cli(['audit', 'list', '-d', data, '--type', 'dropped', '--format', 'json']);
    expect(audit.status).toBe(0);
    const log = new SqliteAuditLog(data);
    const hashes = ['b@example.org', 'c@example.org'].map((a) => log.recipientHash(a)).sort();
    await log.close();
    expect(JSON.parse(audit.out)).toEqual([
      {
        id: 1,
        type: 'dropped',
        at: expect.any(String),
        queueId: 'Q1',
        consentClass: 'opens',
        recipientHashes: hashes,
        spoolId: id1,
        attempt: 3,
        upstream: '451 4.4.1 upstream unreachable: ECONNREFUSED',
      },
    ]);
    expect(audit.out).not.toMatch(/@example/);
  });

  it('the scan interval in the message comes from the configuration', async () => {
    const id = await spool.enqueue(meta(), RAW);
    const config = join(tmp.path, 'relay.yaml');
    writeFileSync(config, YAML.stringify({ dataDir: data, spool: { scanInterval: '2m' } }));
    expect(cli(['queue', 'retry', id, '-c', config]).out).toMatch(/next spool scan \(every 120s\)/);
  });

  it('unknown and malformed ids are usage errors', async () => {
    await spool.enqueue(meta(), RAW);
    const retry = cli(['queue', 'retry', 'nope', '-d', data]);
    expect(retry.status).toBe(64);
    expect(oneErrorLine(retry)).toMatch(/^consent-relay: no queue entry nope \(.*queue list/);
    const drop = cli(['queue', 'drop', 'nope', '-d', data]);
    expect(drop.status).toBe(64);
    expect(oneErrorLine(drop)).toMatch(/no queue entry nope/);
    const path = cli(['queue', 'drop', '../consent.db', '-d', data]);
    expect(path.status).toBe(64);
    expect(oneErrorLine(path)).toMatch(/not a spool entry id/);
    expect((await spool.list()).length).toBe(1);
  });
});
