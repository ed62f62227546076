import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { decodeWith, decoders, knownDecoderIds } from '../../../src/rewrite/decoders/index.js';
import type { UnwrapSpec } from '../../../src/rewrite/rules/types.js';

/** The ids the rules file may reference; changing this list is changing the rules contract. */
const IDS = [
  'query',
  'path',
  'ses',
  'base64',
  'base64-zlib',
  'base64-json',
  'mailgun',
  'mandrill',
  'sparkpost',
  'customerio',
  'outreach',
  'activecampaign',
  'postmark',
  'proofpoint',
  'safelinks',
  'barracuda',
  'generic',
];

/** Arguments that exercise each decoder's options in the property test below. */
const SPECS: readonly UnwrapSpec[] = [
  ...IDS.map((decoder) => ({ decoder })),
  { decoder: 'query', param: ['u', 'url'] },
  { decoder: 'path', prefix: 'r' },
  { decoder: 'base64', param: 'u' },
  { decoder: 'base64', segment: -1 },
  { decoder: 'base64-zlib', param: 'u' },
  { decoder: 'base64-json', param: 'u', key: 'a.b' },
];

describe('decoder registry', () => {
  it('knows exactly the documented ids', () => {
    expect([...knownDecoderIds].sort()).toEqual([...IDS].sort());
    for (const [id, d] of decoders) {
      expect(d.id).toBe(id);
      expect(d.description.length).toBeGreaterThan(10);
    }
  });

  it('decodeWith runs the named decoder and refuses unknown ids', () => {
    const url = new URL('https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com%2F');
    expect(decodeWith(url, { decoder: 'safelinks' })).toBe('https://example.com/');
    expect(decodeWith(url, { decoder: 'no-such-decoder' })).toBeNull();
  });

  // Property: whatever the URL, every decoder returns null or an absolute http(s) URL, and never throws.
  const payload = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    fc.constantFrom('javascript:alert(1)', 'data:text/html,x', 'vbscript:x', 'JaVaScRiPt:alert(1)', 'http://', '//', 'https:%2F%2F'),
  );
  const encoded = fc.tuple(payload, fc.constantFrom('plain', 'uri', 'b64', 'b64url')).map(([p, how]) => {
    if (how === 'uri') return encodeURIComponent(p);
    if (how === 'b64') return encodeURIComponent(Buffer.from(p).toString('base64'));
    if (how === 'b64url') return Buffer.from(p).toString('base64url');
    return encodeURIComponent(p);
  });
  const trackingUrl = fc.tuple(fc.webUrl(), encoded, encoded).map(([base, a, b]) => `${base.replace(/[?#].*$/, '')}/r/${b}/${a}?u=${a}&url=${b}&p=${a}&a=${b}&redirectUrl=${a}&l=${b}`);

  it('every decoder is total and returns only http(s) URLs', () => {
    fc.assert(
      fc.property(trackingUrl, (raw) => {
        let url: URL;
        try {
          url = new URL(raw);
        } catch {
          return;
        }
        for (const spec of SPECS) {
          const out = decoders.get(spec.decoder)?.decode(url, spec) ?? null;
          if (out !== null) expect(['http:', 'https:']).toContain(new URL(out).protocol);
        }
      }),
      { numRuns: 300 },
    );
  });
});
