import { describe, expect, it } from 'vitest';

import { HUGE, b64, b64url, decode, quickly, vectors, type Vector } from './helpers.js';

describe('base64 decoder', () => {
  describe('query parameter', () => {
    vectors({ decoder: 'base64', param: 'r' }, [
      // literal: base64("https://www.example.com/spring-sale?src=mail&id=42")
      ['literal padded standard base64', 'https://t.example.net/c?r=aHR0cHM6Ly93d3cuZXhhbXBsZS5jb20vc3ByaW5nLXNhbGU/c3JjPW1haWwmaWQ9NDI%3D', 'https://www.example.com/spring-sale?src=mail&id=42'],
      ['base64url without padding', `https://t.example.net/c?r=${b64url('https://example.com/a?b=c~d')}`, 'https://example.com/a?b=c~d'],
      ['"+" read back as a space is restored', `https://t.example.net/c?r=${b64('https://example.com/>>?')}`, 'https://example.com/%3E%3E?'],
      ['text percent-encoded once more', `https://t.example.net/c?r=${b64url(encodeURIComponent('https://example.com/x?y=1'))}`, 'https://example.com/x?y=1'],
      ['javascript: payload refused', `https://t.example.net/c?r=${b64url('javascript:alert(1)//https://example.com')}`, null],
      ['non-URL payload', `https://t.example.net/c?r=${b64url('{"id":12345,"list":"weekly"}')}`, null],
      ['binary payload', `https://t.example.net/c?r=${b64url(Buffer.from([0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0xff, 0xfe, 0x00]))}`, null],
      ['garbage characters', 'https://t.example.net/c?r=%21%21not*base64%21%21', null],
      ['unpadded literal', 'https://t.example.net/c?r=aHR0cHM6Ly9leGFtcGxlLmNvbQ', 'https://example.com/'],
      ['impossible length (4n+1)', 'https://t.example.net/c?r=aHR0cHM6Ly9leGFtcGxlLmNvbS9hY', null],
      ['truncated inside the scheme', 'https://t.example.net/c?r=aHR0cH', null],
      ['parameter absent', `https://t.example.net/c?x=${b64url('https://example.com/')}`, null],
    ] satisfies Vector[]);
  });

  describe('path segment', () => {
    vectors({ decoder: 'base64', segment: 2 }, [
      ['ConvertKit-style third segment (literal)', 'https://click.convertkit-mail2.com/v8u0g5rkqkh7h8k6d9i3/d0hgh8h6v2l3nnt7/aHR0cHM6Ly93d3cuZXhhbXBsZS5jb20vYm9vaw==', 'https://www.example.com/book'],
      ['segment out of range', 'https://click.convertkit-mail2.com/a/b', null],
    ] satisfies Vector[]);
    vectors({ decoder: 'base64', segment: -2 }, [
      ['negative index counts from the end', `https://t.example.net/r/${b64url('https://example.com/end')}/sig/`, 'https://example.com/end'],
    ] satisfies Vector[]);
  });

  it('the "+" vector really carries a "+"', () => {
    expect(b64('https://example.com/>>?')).toContain('+');
  });

  it('without param or segment, tries every value', () => {
    const url = `https://t.example.net/r/abc?id=7&d=${b64url('https://example.com/any')}`;
    expect(decode({ decoder: 'base64' }, url)).toBe('https://example.com/any');
  });

  it('refuses a 1 MB token quickly', () => {
    expect(quickly(() => decode({ decoder: 'base64', param: 'r' }, `https://t.example.net/c?r=${HUGE}`))).toBeNull();
  });
});
