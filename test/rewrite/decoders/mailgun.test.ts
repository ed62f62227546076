import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { HUGE, decode, quickly, vectors, type Vector } from './helpers.js';

/**
 * Mailgun's token: base64url(zlib(form-encoded record)). The record fields seen on real links are
 * d (domain id), e (expiry), h (HMAC), i (message id), l (the link), r (recipient), v (version).
 */
function mailgunToken(link: string, extra = ''): string {
  const record = `d=5b5d7&e=1760612268&h=2785e3729c5406e12e78da92f0779e57&i=20251016.1.C0FFEE%40mg.example.com&l=${encodeURIComponent(link)}&r=alice%40example.org&v=2${extra}`;
  return deflateSync(Buffer.from(record)).toString('base64url');
}

// literal: the record above with l=https://www.example.com/blog/post-42?ref=news
const LITERAL =
  'eJxNyzkOgzAQAMDXrLug9fpYU7iIEvwPjuWQTIwAhTw_VaTUoxmi69zASqJmj14T-aDmSBycGKa6dxa9aBIOQ1vTiMy1OFZLJCSnUXuNhm2odPXAlJoGLK5TJZ923bJUfVlVjvN5bgeYO1ACStd1_TtQ6nKZgNJWjvNmCUzaZQTzfMl1qD22eekFLP5O2Sf1jvQFV4c2Qg';

describe('mailgun decoder', () => {
  vectors({ decoder: 'mailgun' }, [
    ['literal vector', `https://email.mg.example.com/c/${LITERAL}`, 'https://www.example.com/blog/post-42?ref=news'],
    ['built vector with query and fragment', `https://email.news.example.com/c/${mailgunToken('https://shop.example.com/p/1?a=1&b=2#reviews')}`, 'https://shop.example.com/p/1?a=1&b=2#reviews'],
    ['link without scheme (seen on real links)', `https://email.mg.example.com/c/${mailgunToken('www.example.com')}`, 'https://www.example.com/'],
    ['mailgun.org host', `https://email.mailgun.org/c/${mailgunToken('https://example.com/x')}`, 'https://example.com/x'],
    ['javascript: link refused', `https://email.mg.example.com/c/${mailgunToken('javascript:alert(1)')}`, null],
    ['record without l', `https://email.mg.example.com/c/${deflateSync(Buffer.from('d=1&r=alice%40example.org')).toString('base64url')}`, null],
    ['token that is not zlib (opaque)', 'https://email.mg.example.com/c/E1ZMdGhpcyBpcyBub3QgemxpYg', null],
    ['truncated token', `https://email.mg.example.com/c/${LITERAL.slice(0, 120)}`, null],
    ['open pixel', 'https://email.mg.example.com/o/eJwNy0EOgjAQBdDTdJadT2tCWcwiMXgPWy2iUERIDN5e3v6NQr0v2jnh', null],
  ] satisfies Vector[]);

  it('refuses a 1 MB token quickly', () => {
    expect(quickly(() => decode({ decoder: 'mailgun' }, `https://email.mg.example.com/c/eJ${HUGE}`))).toBeNull();
  });
});
