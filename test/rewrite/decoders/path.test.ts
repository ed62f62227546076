import { describe, expect, it } from 'vitest';

import { HUGE, decode, quickly, vectors, type Vector } from './helpers.js';

const SES_TAIL = '/1/0100018c7d6a1b2c-3d4e5f60-7182-93a4-b5c6-d7e8f9a0b1c2-000000/AbCdEfGhIj0123456789=123';

describe('path decoder', () => {
  describe('prefix "/L0/" (Amazon SES shape)', () => {
    vectors({ decoder: 'path', prefix: '/L0/' }, [
      ['SES link', `https://abc.r.us-east-1.awstrack.me/L0/https:%2F%2Fexample.com%2Fpage%3Fa=1${SES_TAIL}`, 'https://example.com/page?a=1'],
      [
        'SES link with encoded query and fragment',
        `https://8q6v2v7r.r.eu-west-1.awstrack.me/L0/https:%2F%2Fwww.example.com%2Fissue%2F42%3Futm_source=ses%26x=%C3%A9%23top${SES_TAIL}`,
        'https://www.example.com/issue/42?utm_source=ses&x=%C3%A9#top',
      ],
      ['fully encoded scheme', `https://abc.r.us-east-1.awstrack.me/L0/https%3A%2F%2Fexample.com%2F${SES_TAIL}`, 'https://example.com/'],
      ['prefix deeper in the path', `https://click.example.net/x/L0/https:%2F%2Fexample.com%2F${SES_TAIL}`, 'https://example.com/'],
      ['javascript: refused', `https://abc.r.us-east-1.awstrack.me/L0/javascript:alert(1)${SES_TAIL}`, null],
      ['prefix absent', `https://abc.r.us-east-1.awstrack.me/L1/https:%2F%2Fexample.com%2F${SES_TAIL}`, null],
      ['nothing after prefix', 'https://abc.r.us-east-1.awstrack.me/L0/', null],
      ['malformed percent-encoding', `https://abc.r.us-east-1.awstrack.me/L0/https:%2F%2Fexample.com%2F%E0%A4%A${SES_TAIL}`, null],
      ['open pixel (no destination)', 'https://abc.r.us-east-1.awstrack.me/I0/0100018c7d6a1b2c-3d4e5f60-000000/AbCd=123', null],
    ] satisfies Vector[]);
  });

  it('accepts the prefix with or without slashes, and multi-segment prefixes', () => {
    const url = 'https://t.example.net/go/to/https%3A%2F%2Fexample.com%2Fdocs/abc';
    expect(decode({ decoder: 'path', prefix: 'to' }, url)).toBe('https://example.com/docs');
    expect(decode({ decoder: 'path', prefix: '/go/to' }, url)).toBe('https://example.com/docs');
    expect(decode({ decoder: 'path', prefix: 'go/to/' }, url)).toBe('https://example.com/docs');
    expect(decode({ decoder: 'path', prefix: '/' }, url)).toBeNull();
    expect(decode({ decoder: 'path' }, url)).toBeNull();
  });

  it('refuses a 1 MB segment quickly', () => {
    expect(quickly(() => decode({ decoder: 'path', prefix: 'L0' }, `https://a.awstrack.me/L0/https:%2F%2Fexample.com%2F${HUGE}/1/x`))).toBeNull();
  });
});
