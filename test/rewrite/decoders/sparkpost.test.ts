import { describe, expect, it } from 'vitest';

import { HUGE, decode, quickly, vectors, type Vector } from './helpers.js';

/**
 * Builds a SparkPost click record the way real ones are laid out (see src/rewrite/decoders/sparkpost.ts):
 * fields as [number, value]; the tag byte's top two bits give the length size (0 none, 1 one
 * byte, 2 two bytes little-endian), the low six bits the field number. Base64url with "~" padding.
 */
function sparkRecord(fields: readonly (readonly [number, string | Buffer | null])[]): string {
  const parts: Buffer[] = [];
  for (const [field, value] of fields) {
    if (value === null) {
      parts.push(Buffer.from([field]));
      continue;
    }
    const bytes = Buffer.from(value);
    if (bytes.length < 256) parts.push(Buffer.from([0x40 | field, bytes.length]), bytes);
    else parts.push(Buffer.from([0x80 | field, bytes.length & 0xff, bytes.length >> 8]), bytes);
  }
  return Buffer.concat(parts).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, '~');
}

const TIMESTAMP: readonly [number, Buffer] = [6, Buffer.from([0x65, 0xa0, 0x3e, 0x89])];
const CLICK_MARK: readonly [number, null] = [63, null];
const recordFor = (dest: string): string =>
  sparkRecord([
    TIMESTAMP,
    CLICK_MARK,
    [23, 'examplenews'],
    [2, Buffer.from('000203d4579f2091b090', 'hex')],
    [18, 'reader@example.org'],
    [9, null],
    [17, Buffer.alloc(4)],
    [4, dest],
    [7, '{"source":"newsletter"}'],
  ]);

// literal: record with field 4 = https://news.example.com/2024/05/04/story-slug/?ftcamp=crm/email
const LITERAL =
  'RgRloD6JP0EIAOu-xDgOaYRXC2V4YW1wbGVuZXdzWAQAAAAASBg1NzllNjlhZjE5ZTBhZjAzMDBkNjQ3ZWVCCgACA9RXnyCRsJBSEnJlYWRlckBleGFtcGxlLm9yZ0RAaHR0cHM6Ly9uZXdzLmV4YW1wbGUuY29tLzIwMjQvMDUvMDQvc3Rvcnktc2x1Zy8_ZnRjYW1wPWNybS9lbWFpbEc_eyJzb3VyY2UiOiJuZXdzbGV0dGVyIiwidGVtcGxhdGVJZCI6IjU3NTk4OGM5MGI4NjBkMDMwMGEyYmNlYSJ9';
const PREFIX = 'https://click.news.example.com/f/a/0InQCelFW2O0HkR0gAMXEw~~/AAAAAQA~';
const LONG_DEST = `https://example.com/${'segment/'.repeat(40)}?q=1`;

describe('sparkpost decoder', () => {
  vectors({ decoder: 'sparkpost' }, [
    ['literal vector (custom tracking domain)', `${PREFIX}/${LITERAL}`, 'https://news.example.com/2024/05/04/story-slug/?ftcamp=crm/email'],
    ['spgo.io', `https://spgo.io/f/a/lR_lhTb0g2jZcTvJXZGNjQ~~/AAAAAQA~/${recordFor('https://example.com/a?b=1')}`, 'https://example.com/a?b=1'],
    ['sparkpostmail.com', `https://go.sparkpostmail.com/f/a/lR_lhTb0g2jZcTvJXZGNjQ~~/AAAAAQA~/${recordFor('http://example.com/')}`, 'http://example.com/'],
    ['destination over 255 bytes (two-byte length)', `${PREFIX}/${recordFor(LONG_DEST)}`, LONG_DEST],
    [
      'empty destination field, target parameter',
      `${PREFIX}/${sparkRecord([TIMESTAMP, CLICK_MARK, [5, 'emo-digest-image'], [4, ''], [23, 'examplenews']])}?target=https%3A%2F%2Fwww.example.com%2Frouting%2Fhome`,
      'https://www.example.com/routing/home',
    ],
    ['empty destination field, no target', `${PREFIX}/${sparkRecord([TIMESTAMP, CLICK_MARK, [5, 'emo-digest-image'], [4, '']])}`, null],
    ['open pixel record', `https://click.news.example.com/q/MI712PMPOeC1GnQKjmMpsg~~/AAAAAQA~/${sparkRecord([TIMESTAMP, [62, null], [23, 'examplenews'], [18, 'reader@example.org']])}`, null],
    ['javascript: destination refused', `${PREFIX}/${recordFor('javascript:alert(1)')}`, null],
    ['truncated record', `${PREFIX}/${LITERAL.slice(0, 120)}`, null],
    ['signature segments only', `${PREFIX}`, null],
    ['garbage', `${PREFIX}/not-a-record!`, null],
  ] satisfies Vector[]);

  it('refuses a 1 MB segment quickly', () => {
    expect(quickly(() => decode({ decoder: 'sparkpost' }, `${PREFIX}/RgR${HUGE}`))).toBeNull();
  });
});
