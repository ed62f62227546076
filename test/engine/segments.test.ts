/**
 * The engine over segments: a message given as a file range (how the relay hands over a message it
 * received into a file) comes out exactly as the same message filtered whole in memory, and the
 * segment helpers slice, join and check line endings without reading more than they must.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCanonical } from '../../src/mime/canonical.js';
import { compactSegments, isFileRange, segmentsCanonical, segmentsLength, segmentsToBuffer, sliceSegments, type Segment } from '../../src/segments.js';
import { measureInspected, rewriteMessage, rewriteSegments } from '../../src/rewrite/engine.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const dir = join(import.meta.dirname, '..', '..', 'fixtures', 'golden');
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .sort();
const rules = loadRules();
const NONE = { opens: false, clicks: false };
const TRACE = Buffer.from('Received: from client ([127.0.0.1])\r\n\tby relay.test (consent-relay) with ESMTP id x; Mon, 30 Nov 2026 05:00:00 +0000\r\n');

let tmp: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('engine over a file range', () => {
  it('every golden fixture: the output from the file equals the output in memory, byte for byte', async () => {
    let changed = 0;
    for (const name of names) {
      const raw = toCanonical(readFileSync(join(dir, name)));
      const path = join(tmp.path, name);
      await writeFile(path, raw);
      const opts = { consent: NONE, rules, recipients: ['alice@example.org'] };
      const whole = await rewriteMessage(Buffer.concat([TRACE, raw]), opts).catch((e: unknown) => e);
      const streamed = await rewriteSegments([TRACE, { path, start: 0, end: raw.length }], opts).catch((e: unknown) => e);
      if (whole instanceof Error) {
        // refused in memory: refused from the file too, for the same reason
        expect(streamed, name).toBeInstanceOf(Error);
        expect((streamed as Error).message, name).toBe(whole.message);
        continue;
      }
      if (streamed instanceof Error) throw streamed;
      const w = whole as Awaited<ReturnType<typeof rewriteMessage>>;
      const s = streamed as Awaited<ReturnType<typeof rewriteSegments>>;
      expect(s.changed, name).toBe(w.changed);
      expect((await segmentsToBuffer(s.output)).equals(w.output), name).toBe(true);
      expect(await segmentsCanonical(s.output), name).toBe(true);
      expect(s.findings.length, name).toBe(w.findings.length);
      if (s.changed) {
        changed++;
        // what was not edited is still on disk, not copied into memory
        expect(s.output.some(isFileRange), name).toBe(true);
      } else {
        expect(s.output, name).toHaveLength(2);
      }
      expect(await measureInspected([TRACE, { path, start: 0, end: raw.length }]), name).toBe(s.inspectedBytes);
    }
    expect(changed).toBeGreaterThan(30);
  }, 240_000);

  it('a file shorter than its range is an internal failure, never a shorter message', async () => {
    const raw = toCanonical(readFileSync(join(dir, names[0]!)));
    const path = join(tmp.path, 'short.eml');
    await writeFile(path, raw.subarray(0, raw.length - 100));
    const err = await rewriteSegments([{ path, start: 0, end: raw.length }], { consent: NONE, rules }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FILTER_FAILED' });
  });
});

describe('segments', () => {
  it('slice across pieces, and join views and ranges that continue each other', async () => {
    const path = join(tmp.path, 'abc');
    await writeFile(path, 'abcdefghij');
    const mem = Buffer.from('0123456789');
    const segs: Segment[] = [mem.subarray(0, 4), mem.subarray(4, 10), { path, start: 0, end: 5 }, { path, start: 5, end: 10 }];
    expect(segmentsLength(segs)).toBe(20);
    expect((await segmentsToBuffer(sliceSegments(segs, 2, 17))).toString()).toBe('23456789abcdefg');
    const compact = compactSegments(segs);
    expect(compact).toHaveLength(2);
    expect(compact[1]).toEqual({ path, start: 0, end: 10 });
    expect((await segmentsToBuffer(compact)).toString()).toBe('0123456789abcdefghij');
  });

  it('line endings are checked where bytes in memory meet a range', async () => {
    const path = join(tmp.path, 'lines');
    await writeFile(path, '\nline\r\n');
    const range = { path, start: 0, end: 7 };
    expect(await segmentsCanonical([Buffer.from('a\r'), range])).toBe(true);
    expect(await segmentsCanonical([Buffer.from('a'), range])).toBe(false);
    expect(await segmentsCanonical([Buffer.from('a\r\n'), { path, start: 1, end: 7 }, Buffer.from('b\r\n')])).toBe(true);
    expect(await segmentsCanonical([Buffer.from('a\n'), { path, start: 1, end: 7 }])).toBe(false);
  });
});
