import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { HUGE, decode, quickly, vectors, type Vector } from './helpers.js';

/**
 * Builds a token the way zlib-token trackers do: compress the text, then base64url it.
 * `format` picks the container, since vendors differ (zlib header "eJ...", raw deflate, gzip "H4sI...").
 */
function zlibToken(text: string, format: 'zlib' | 'raw' | 'gzip' = 'zlib'): string {
  const compress = format === 'zlib' ? deflateSync : format === 'raw' ? deflateRawSync : gzipSync;
  return compress(Buffer.from(text)).toString('base64url');
}

describe('base64-zlib decoder', () => {
  describe('query parameter', () => {
    vectors({ decoder: 'base64-zlib', param: 'z' }, [
      // literal: base64url(zlib('{"v":1,"url":"https://www.example.com/offers/spring?c=42"}'))
      ['literal zlib JSON vector', 'https://t.example.net/c?z=eJyrVipTsjLUUSotylGyUsooKSkottLXLy8v10utSMwtyEnVS87P1c9PS0stKtYvLijKzEu3T7Y1MVKqBQA3DBPR', 'https://www.example.com/offers/spring?c=42'],
      // literal: base64(raw deflate('https://shop.example.com/cart?id=9')), standard alphabet, no padding
      ['literal raw-deflate URL vector', 'https://t.example.net/c?z=yygpKSi20tcvzsgv0EutSMwtyEnVS87P1U9OLCqxz0yxtQQA', 'https://shop.example.com/cart?id=9'],
      ['zlib of a bare URL', `https://t.example.net/c?z=${zlibToken('https://example.com/zlib')}`, 'https://example.com/zlib'],
      ['gzip of JSON with the URL nested', `https://t.example.net/c?z=${zlibToken('{"meta":{"links":[{"href":"https://example.com/deep"}]}}', 'gzip')}`, 'https://example.com/deep'],
      ['JSON holding JSON in a string', `https://t.example.net/c?z=${zlibToken(JSON.stringify({ p: JSON.stringify({ url: 'https://example.com/inner' }) }))}`, 'https://example.com/inner'],
      ['javascript: payload refused', `https://t.example.net/c?z=${zlibToken('javascript:alert(1)')}`, null],
      ['JSON without a URL', `https://t.example.net/c?z=${zlibToken('{"id":1,"list":"weekly"}')}`, null],
      ["form-encoded record is not this decoder's format", `https://t.example.net/c?z=${zlibToken('l=https%3A%2F%2Fexample.com%2F&r=x')}`, null],
      ['base64 that is not compressed', `https://t.example.net/c?z=${Buffer.from('https://example.com/').toString('base64url')}`, null],
      ['garbage', 'https://t.example.net/c?z=eJzz%21%21%21', null],
    ] satisfies Vector[]);
  });

  it('refuses a truncated stream rather than return half a URL', () => {
    const token = zlibToken('https://example.com/a/long/path/that/gets/cut/off?and=a&query=string');
    expect(decode({ decoder: 'base64-zlib', param: 'z' }, `https://t.example.net/c?z=${token.slice(0, token.length - 8)}`)).toBeNull();
  });

  it('reads a path segment', () => {
    const url = `https://t.example.net/c/${zlibToken('https://example.com/seg')}/sig`;
    expect(decode({ decoder: 'base64-zlib', segment: 1 }, url)).toBe('https://example.com/seg');
  });

  it('refuses a decompression bomb quickly', () => {
    // 8 MB of "a" deflates to ~8 KB: a complete, valid stream that only the output cap stops
    const bomb = deflateSync(Buffer.alloc(8 * 1024 * 1024, 0x61)).toString('base64url');
    expect(bomb.length).toBeLessThan(32 * 1024);
    expect(quickly(() => decode({ decoder: 'base64-zlib', param: 'z' }, `https://t.example.net/c?z=${bomb}`))).toBeNull();
  });

  it('refuses a 1 MB token quickly', () => {
    expect(quickly(() => decode({ decoder: 'base64-zlib', param: 'z' }, `https://t.example.net/c?z=${HUGE}`))).toBeNull();
  });
});
