import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { dropQueue, listQueue, retryQueue } from '../../src/delivery/queueCommands.js';
import { Spool } from '../../src/delivery/spool.js';
import type { SpoolMeta } from '../../src/delivery/spool.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const RAW = Buffer.from('Subject: private subject\r\n\r\nprivate body\r\n');

function meta(over: Partial<SpoolMeta> = {}): SpoolMeta {
  return {
    envelope: { from: 'a@example.com', to: ['b@example.org', 'c@example.org'] },
    consentClass: 'opens',
    messageId: '<m@example.com>',
    queueId: 'Q1',
    attempts: 3,
    firstAttemptAt: '2030-01-01T00:00:00.000Z',
    nextAttemptAt: '2030-01-01T06:00:00.000Z',
    lastError: '451 4.4.1 upstream unreachable: ECONNREFUSED',
    failures: [],
    ...over,
  };
}

describe('queue commands', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let spool: Spool;
  beforeEach(async () => {
    tmp = await makeTempDir();
    spool = await Spool.open(tmp.path);
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('lists id, class, recipient count, attempts, next attempt and last error, without bodies or addresses', async () => {
    expect(await listQueue(spool)).toBe('queue is empty\n');
    const id1 = await spool.enqueue(meta(), RAW);
    const id2 = await spool.enqueue(meta({ consentClass: 'dsn', envelope: { from: '', to: ['a@example.com'] }, attempts: 0, lastError: null }), RAW);
    const out = await listQueue(spool);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+CLASS\s+RCPTS\s+ATTEMPTS\s+NEXT ATTEMPT\s+LAST ERROR$/);
    expect(lines[1]).toMatch(new RegExp(`^${id1}\\s+opens\\s+2\\s+3\\s+2030-01-01T06:00:00.000Z\\s+451 4\\.4\\.1 upstream unreachable: ECONNREFUSED$`));
    expect(lines[2]).toMatch(new RegExp(`^${id2}\\s+dsn\\s+1\\s+0\\s+\\S+\\s+-$`));
    expect(lines[3]).toBe('2 entries');
    expect(out).not.toContain('private');
    expect(out).not.toContain('@example');
  });

  it('retry makes one entry or all due now', async () => {
    const id1 = await spool.enqueue(meta(), RAW);
    const id2 = await spool.enqueue(meta(), RAW);
    const now = (): number => Date.UTC(2029, 11, 31);
    expect(await retryQueue(spool, id1, now)).toBe(1);
    expect((await spool.get(id1))?.meta.nextAttemptAt).toBe('2029-12-31T00:00:00.000Z');
    expect((await spool.get(id2))?.meta.nextAttemptAt).toBe('2030-01-01T06:00:00.000Z');
    expect(await retryQueue(spool, 'all', now)).toBe(2);
    expect((await spool.get(id2))?.meta.nextAttemptAt).toBe('2029-12-31T00:00:00.000Z');
    expect((await spool.get(id2))?.raw.equals(RAW)).toBe(true);
    await expect(retryQueue(spool, 'nope')).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('drop removes an entry; an unknown id is a usage error', async () => {
    const id = await spool.enqueue(meta(), RAW);
    await dropQueue(spool, id);
    expect(await spool.list()).toEqual([]);
    await expect(dropQueue(spool, id)).rejects.toMatchObject({ code: 'USAGE' });
  });
});
