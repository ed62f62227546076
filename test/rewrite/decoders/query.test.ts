import { describe, expect, it } from 'vitest';

import { HUGE, decode, quickly, vectors, type Vector } from './helpers.js';

describe('query decoder', () => {
  describe('single parameter', () => {
    vectors({ decoder: 'query', param: 'q' }, [
      ['Google redirect', 'https://www.google.com/url?q=https://example.com/a%3Fb%3D1&sa=D&source=editors&ust=1700000000000000&usg=AOvVaw0abc', 'https://example.com/a?b=1'],
      ['one extra level of percent-encoding', 'https://r.example.net/go?q=https%253A%252F%252Fexample.com%252Fx%253Fy%253D1', 'https://example.com/x?y=1'],
      ['scheme-less host gets https', 'https://r.example.net/go?q=www.example.com/x', 'https://www.example.com/x'],
      ['protocol-relative gets https', 'https://r.example.net/go?q=//cdn.example.com/x', 'https://cdn.example.com/x'],
      ['upper-case scheme is normalised', 'https://r.example.net/go?q=HTTPS://Example.COM/Path', 'https://example.com/Path'],
      ['parameter name is matched case-insensitively', 'https://r.example.net/go?Q=https%3A%2F%2Fexample.com%2F', 'https://example.com/'],
      ['javascript: refused', 'https://r.example.net/go?q=javascript:alert(document.cookie)', null],
      ['percent-encoded javascript: refused', 'https://r.example.net/go?q=javascript%253Aalert(1)', null],
      ['data: refused', 'https://r.example.net/go?q=data:text/html;base64,PHNjcmlwdD4=', null],
      ['ftp: refused', 'https://r.example.net/go?q=ftp://example.com/file', null],
      ['relative path refused', 'https://r.example.net/go?q=/account/settings', null],
      ['no host refused', 'https://r.example.net/go?q=http://', null],
      ['bare word refused', 'https://r.example.net/go?q=newsletter', null],
      ['two extra levels are one too many', 'https://r.example.net/go?q=https%25253A%25252F%25252Fexample.com', null],
      ['malformed percent-encoding', 'https://r.example.net/go?q=https%25E0%25A4%25A', null],
      ['parameter absent', 'https://r.example.net/go?u=https://example.com/', null],
    ] satisfies Vector[]);
  });

  describe('list of parameters, first that yields a URL wins', () => {
    vectors({ decoder: 'query', param: ['u', 'url', 'U'] }, [
      ['second name', 'https://r.example.net/go?url=https%3A%2F%2Fexample.com%2Fsecond', 'https://example.com/second'],
      [
        'Amazon /gp/r.html U=',
        'https://www.amazon.com/gp/r.html?C=2BM9ZCJ9RXCK5&K=3NFU8Z9FAYK5I&M=urn:rtn:msg:202401011200&R=1N3BJ6PRN7HXP&T=C&U=https%3A%2F%2Fwww.amazon.com%2Fdp%2FB000000000%3Fref_%3Dpe_123&H=XYZ&ref_=pe_123',
        'https://www.amazon.com/dp/B000000000?ref_=pe_123',
      ],
      ['first name not a URL, second is', 'https://r.example.net/go?u=12345&url=https://example.com/', 'https://example.com/'],
    ] satisfies Vector[]);
  });

  it('returns null for a spec without param, or with a non-string param', () => {
    expect(decode({ decoder: 'query' }, 'https://r.example.net/go?q=https://example.com/')).toBeNull();
    expect(decode({ decoder: 'query', param: 3 }, 'https://r.example.net/go?q=https://example.com/')).toBeNull();
    expect(decode({ decoder: 'query', param: [] }, 'https://r.example.net/go?q=https://example.com/')).toBeNull();
  });

  it('refuses a 1 MB value quickly', () => {
    expect(quickly(() => decode({ decoder: 'query', param: 'q' }, `https://r.example.net/go?q=https://example.com/${HUGE}`))).toBeNull();
  });
});
