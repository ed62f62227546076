import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { isRelayError } from '../../src/errors.js';
import { Spool } from '../../src/delivery/spool.js';
import type { SpoolMeta } from '../../src/delivery/spool.js';
import { makeTempDir, makeUnwritableDir } from '../helpers/tmpdir.js';

const RAW = Buffer.from('Subject: s\r\n\r\nbody\r\n.\r\nline after a dot\r\n');

function meta(over: Partial<SpoolMeta> = {}): SpoolMeta {
  return {
    envelope: { from: 'a@example.com', to: ['b@example.org'] },
    consentClass: 'opens',
    messageId: '<m@example.com>',
    queueId: 'Q1',
    attempts: 1,
    firstAttemptAt: '2030-01-01T00:00:00.000Z',
    nextAttemptAt: '2030-01-01T00:05:00.000Z',
    lastError: '451 4.4.1 upstream unreachable',
    failures: [],
    ...over,
  };
}

describe('Spool', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTempDir();
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('stores header and exact bytes, and survives re-opening', async () => {
    const spool = await Spool.open(tmp.path);
    const id = await spool.enqueue(meta(), RAW);

    const again = await Spool.open(tmp.path);
    expect((await again.list()).map((e) => e.id)).toEqual([id]);
    const got = await again.get(id);
    expect(got?.meta).toEqual(meta());
    expect(got?.raw.equals(RAW)).toBe(true);
    // one file per entry, nothing else left behind
    expect(await readdir(join(tmp.path, 'spool'))).toEqual([`${id}.msg`]);
  });

  it('update rewrites the metadata and keeps the bytes; remove deletes', async () => {
    const spool = await Spool.open(tmp.path);
    const id = await spool.enqueue(meta(), RAW);
    expect(await spool.update(id, meta({ attempts: 2, lastError: 'line one\nline two' }))).toBe(true);
    const got = await spool.get(id);
    expect(got?.meta.attempts).toBe(2);
    expect(got?.meta.lastError).toBe('line one\nline two');
    expect(got?.raw.equals(RAW)).toBe(true);

    expect(await spool.remove(id)).toBe(true);
    expect(await spool.remove(id)).toBe(false);
    expect(await spool.get(id)).toBeNull();
    expect(await spool.update(id, meta())).toBe(false); // a dropped entry is not resurrected
    expect(await spool.list()).toEqual([]);
  });

  it('ignores and sweeps temporary files left by a crash, and skips corrupt entries', async () => {
    const spool = await Spool.open(tmp.path);
    const id = await spool.enqueue(meta(), RAW);
    await writeFile(join(spool.dir, '.tmp-half-written'), '{"envel');
    await writeFile(join(spool.dir, 'zzz-corrupt.msg'), 'not json\n');
    expect((await spool.list()).map((e) => e.id)).toEqual([id]);
    await Spool.open(tmp.path);
    expect((await readdir(spool.dir)).sort()).toEqual([`${id}.msg`, 'zzz-corrupt.msg']);
  });

  it('rejects ids that are not ids (no path traversal from the CLI)', async () => {
    const spool = await Spool.open(tmp.path);
    await expect(spool.get('../../etc/passwd')).rejects.toMatchObject({ code: 'USAGE' });
    await expect(spool.remove('a/b')).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('fails with SPOOL_WRITE_FAILED when the directory is not writable', async () => {
    const spool = new Spool(tmp.path);
    await makeUnwritableDir(spool.dir);
    const err: unknown = await spool.enqueue(meta(), RAW).catch((e: unknown) => e);
    expect(isRelayError(err) && err.code).toBe('SPOOL_WRITE_FAILED');
  });

  it('writes the header as one JSON line followed by the raw bytes', async () => {
    const spool = await Spool.open(tmp.path);
    const id = await spool.enqueue(meta({ lastError: 'a\r\nb' }), RAW);
    const file = await readFile(join(spool.dir, `${id}.msg`));
    const nl = file.indexOf(0x0a);
    expect(JSON.parse(file.subarray(0, nl).toString())).toMatchObject({ consentClass: 'opens', attempts: 1 });
    expect(file.subarray(nl + 1).equals(RAW)).toBe(true);
  });
});
