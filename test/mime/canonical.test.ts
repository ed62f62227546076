/** The CRLF canonicaliser: any bytes, cut into chunks anywhere, give the same canonical bytes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineEndingCanonicaliser, isCanonical, toCanonical } from '../../src/mime/canonical.js';

/** The reference: every CRLF, bare CR and bare LF is one line ending. */
const reference = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');

// bytes biased towards CR, LF and dots, where the edge cases are
const bytes = fc.array(fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x2e), fc.integer({ min: 0, max: 255 })), { maxLength: 200 }).map((a) => Buffer.from(a));

function streamed(buf: Buffer, cuts: number[]): { out: Buffer; bare: number } {
  const c = new LineEndingCanonicaliser();
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts.map((x) => x % (buf.length + 1))].sort((a, b) => a - b)) {
    out.push(c.push(buf.subarray(at, cut)));
    at = cut;
  }
  out.push(c.push(buf.subarray(at)), c.end());
  return { out: Buffer.concat(out), bare: c.bare };
}

describe('line-ending canonicaliser', () => {
  it('streaming over any chunking equals the reference', () => {
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 8 }), (buf, cuts) => {
        const { out, bare } = streamed(buf, cuts);
        expect(out.equals(reference(buf))).toBe(true);
        expect(isCanonical(out)).toBe(true);
        expect(bare === 0).toBe(isCanonical(buf));
        expect(toCanonical(buf).equals(out)).toBe(true);
      }),
      { seed: 20261130, numRuns: 2000 },
    );
  });

  it('a CR at the end of one chunk and an LF at the start of the next are one CRLF', () => {
    const c = new LineEndingCanonicaliser();
    const out = Buffer.concat([c.push(Buffer.from('a\r')), c.push(Buffer.from('\nb\r')), c.push(Buffer.from('c')), c.end()]);
    expect(out.toString()).toBe('a\r\nb\r\nc');
    expect(c.bare).toBe(1);
  });

  it('canonical input comes back as the same buffer, without a copy', () => {
    const buf = Buffer.from('a\r\nb\r\n');
    expect(toCanonical(buf)).toBe(buf);
    expect(isCanonical(Buffer.from('a\r'))).toBe(false);
    expect(isCanonical(Buffer.from('a\n'))).toBe(false);
    expect(isCanonical(Buffer.from('\r\r\n'))).toBe(false);
  });
});
