import { describe, expect, it } from 'vitest';

import { HUGE, b64, b64url, decode, quickly, vectors, type Vector } from './helpers.js';

describe('generic decoder', () => {
  vectors({ decoder: 'generic' }, [
    ['plain query value', 'https://t.example.net/click?id=42&dest=https://example.com/a', 'https://example.com/a'],
    ['percent-encoded once', 'https://t.example.net/click?id=42&u=https%253A%252F%252Fexample.com%252Fb', 'https://example.com/b'],
    ['percent-encoded twice', 'https://t.example.net/click?u=https%25253A%25252F%25252Fexample.com%25252Fc', 'https://example.com/c'],
    ['base64url query value', `https://t.example.net/click?id=42&t=${b64url('https://example.com/d?x=1')}`, 'https://example.com/d?x=1'],
    ['base64 JSON query value', `https://t.example.net/click?t=${b64url(JSON.stringify({ id: 1, link: 'https://example.com/json' }))}`, 'https://example.com/json'],
    ['literal URL embedded in the path carries its query', 'https://t.example.net/redirect/https://example.com/e?y=1&z=2', 'https://example.com/e?y=1&z=2'],
    ['percent-encoded URL as a path segment (Yesware-style)', 'https://t.yesware.com/tt/abc123/def456/ghi789/https%3A%2F%2Fwww.example.org%2Fpricing', 'https://www.example.org/pricing'],
    [
      'base64url last segment (Mailjet-style)',
      `https://abcd.mjt.lu/lnk/AUsAAD1bq0QAAAAAAAAAAQXnAAAAAFz0AAAAAAAKwR0AZXu4/1/Ab3Cd4Ef5Gh6/${b64url('https://www.example.com/offers')}`,
      'https://www.example.com/offers',
    ],
    ['query values are tried before the path', `https://t.example.net/r/${b64('https://example.com/path')}?u=https://example.com/query`, 'https://example.com/query'],
    ['opaque ids only', 'https://t.example.net/click/8f14e45fceea167a5a36dedd4bea2543/17?c=123&r=abc', null],
    ['javascript: everywhere', `https://t.example.net/r/${b64url('javascript:alert(1)')}?u=javascript:alert(1)`, null],
    ['data: URL in the path', 'https://t.example.net/redirect/data:text/html,hi', null],
  ] satisfies Vector[]);

  it('refuses 1 MB values and segments quickly', () => {
    expect(quickly(() => decode({ decoder: 'generic' }, `https://t.example.net/r/${HUGE}?a=${HUGE}&b=${HUGE}`))).toBeNull();
  });
});
