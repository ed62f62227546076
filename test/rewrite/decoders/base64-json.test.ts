import { describe, expect, it } from 'vitest';

import { b64, b64url, decode, quickly, vectors, type Vector } from './helpers.js';

const j = (v: unknown): string => b64url(JSON.stringify(v));

describe('base64-json decoder', () => {
  describe('with key', () => {
    vectors({ decoder: 'base64-json', param: 'p', key: 'p.url' }, [
      // literal, Mandrill-shaped: {"s":"...","v":1,"p":"{\"u\":30108723,\"v\":1,\"url\":\"https://www.example.com/pricing?plan=pro\",...}"}
      [
        'literal: key path through a JSON string',
        'https://mandrillapp.com/track/click/30108723/www.example.com?p=eyJzIjoiUno2N3l6RE04Q0JQYmFibWJwLVJPNktTei1ZIiwidiI6MSwicCI6IntcInVcIjozMDEwODcyMyxcInZcIjoxLFwidXJsXCI6XCJodHRwczovL3d3dy5leGFtcGxlLmNvbS9wcmljaW5nP3BsYW49cHJvXCIsXCJpZFwiOlwiNGYzYzJhMWIwZTlkOGM3YjZhNWY0ZTNkMmMxYjBhOTlcIixcInVybF9pZHNcIjpbXCIwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3XCJdfSJ9',
        'https://www.example.com/pricing?plan=pro',
      ],
      ['key missing', `https://t.example.net/c?p=${j({ p: { link: 'https://example.com/' } })}`, null],
      ['key holds a non-URL', `https://t.example.net/c?p=${j({ p: { url: 42 } })}`, null],
      ['key holds javascript:', `https://t.example.net/c?p=${j({ p: { url: 'javascript:alert(1)' } })}`, null],
    ] satisfies Vector[]);
  });

  describe('without key: first http(s) URL depth-first', () => {
    vectors({ decoder: 'base64-json', param: 'd' }, [
      ['skips non-URL strings', `https://t.example.net/c?d=${j({ id: 'abc', email: 'a@example.org', target: 'https://example.com/t' })}`, 'https://example.com/t'],
      ['depth-first order', `https://t.example.net/c?d=${j({ a: { b: ['x', 'https://example.com/first'] }, c: 'https://example.com/second' })}`, 'https://example.com/first'],
      ['enters JSON held in strings', `https://t.example.net/c?d=${j({ inner: JSON.stringify({ deeper: JSON.stringify(['https://example.com/nested']) }) })}`, 'https://example.com/nested'],
      ['skips javascript: and takes the next', `https://t.example.net/c?d=${j(['javascript:alert(1)', 'https://example.com/safe'])}`, 'https://example.com/safe'],
      ['standard alphabet with padding', `https://t.example.net/c?d=${encodeURIComponent(b64(JSON.stringify({ u: 'https://example.com/std?x=>>' })))}`, 'https://example.com/std?x=%3E%3E'],
      ['not JSON', `https://t.example.net/c?d=${b64url('not json at all')}`, null],
      ['JSON without URL', `https://t.example.net/c?d=${j({ id: 1, tags: ['a', 'b'] })}`, null],
      ['garbage base64', 'https://t.example.net/c?d=%25%25%25', null],
    ] satisfies Vector[]);
  });

  it('reads a path segment', () => {
    expect(decode({ decoder: 'base64-json', segment: -1 }, `https://t.example.net/c/${j({ href: 'https://example.com/s' })}`)).toBe('https://example.com/s');
  });

  it('a deeply nested or very wide payload is cut off quickly', () => {
    const deep = `${'['.repeat(5000)}"https://example.com/"${']'.repeat(5000)}`;
    expect(quickly(() => decode({ decoder: 'base64-json', param: 'd' }, `https://t.example.net/c?d=${b64url(deep)}`))).toBeNull();
    const wide = JSON.stringify(Array.from({ length: 3000 }, (_, i) => `id-${i}`));
    expect(quickly(() => decode({ decoder: 'base64-json', param: 'd' }, `https://t.example.net/c?d=${b64url(wide)}`))).toBeNull();
  });
});
