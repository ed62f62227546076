import { describe, expect, it } from 'vitest';

import { HUGE, b64, b64url, decode, quickly, vectors, type Vector } from './helpers.js';

/** RFC 4648 base32 with "=" padding, as Outreach writes its click tokens. */
function base32(text: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of Buffer.from(text)) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

const record = (url: string): string => JSON.stringify({ id: 11306798, url, org: '55b77a03-8861-4dea-867d-bb00c2ead86b', version: '4', sig: 'ewm7tDzdmki-pxRmECiQFR9fu43iVnhqerhOoJJKegE=' });

describe('outreach decoder', () => {
  vectors({ decoder: 'outreach' }, [
    [
      'literal base32 vector',
      'https://click.outreach.io/api/mailings/click/PMRGSZBCHIYTCMZQGY3TSOBMEJ2XE3BCHIRGQ5DUOBZTULZPO53XOLTFPBQW24DMMUXGG33NF5SGK3LPH5ZXEYZ5N52XI4TFMFRWQIRMEJXXEZZCHIRDKNLCG43WCMBTFU4DQNRRFU2GIZLBFU4DMN3EFVRGEMBQMMZGKYLEHA3GEIRMEJ3GK4TTNFXW4IR2EI2CELBCONUWOIR2EJSXO3JXORCHUZDNNNUS24DYKJWUKQ3JKFDFEOLGOU2DG2KWNZUHCZLSNBHW6SSKJNSWORJ5EJ6Q====',
      'https://www.example.com/demo?src=outreach',
    ],
    ['branded click host', `https://partners.example.com/api/mailings/click/${base32(record('https://example.com/order'))}`, 'https://example.com/order'],
    ['lower-case, unpadded base32', `https://click.outreach.io/api/mailings/click/${base32(record('https://example.com/lc')).replace(/=+$/, '').toLowerCase()}`, 'https://example.com/lc'],
    ['base64 JSON variant', `https://click.outreach.io/api/mailings/click/${b64url(record('https://example.com/b64'))}`, 'https://example.com/b64'],
    ['base64 bare URL variant', `https://click.outreach.io/api/mailings/click/${b64('https://example.com/bare')}`, 'https://example.com/bare'],
    ['javascript: url refused', `https://click.outreach.io/api/mailings/click/${base32(record('javascript:alert(1)'))}`, null],
    ['truncated token', `https://click.outreach.io/api/mailings/click/${base32(record('https://example.com/x')).slice(0, 64)}`, null],
    ['garbage', 'https://click.outreach.io/api/mailings/click/%21%21%21', null],
    ['open pixel', 'https://click.outreach.io/api/mailings/open/PMRGSZBCHIYTCMZQGY3TSOBMEJ3GK4TTNFXW4IR2EI2CE7I=', null],
  ] satisfies Vector[]);

  it('refuses a 1 MB token quickly', () => {
    expect(quickly(() => decode({ decoder: 'outreach' }, `https://click.outreach.io/api/mailings/click/${HUGE}`))).toBeNull();
  });
});
