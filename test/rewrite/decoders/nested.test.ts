import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { decodeWith, unwrapNested } from '../../../src/rewrite/decoders/index.js';
import type { UnwrapSpec } from '../../../src/rewrite/rules/types.js';

/** A stand-in for the rule set: host suffix -> unwrap spec, as the rules file would say it. */
const WRAPPERS: readonly (readonly [string, UnwrapSpec])[] = [
  ['safelinks.protection.outlook.com', { decoder: 'safelinks' }],
  ['urldefense.com', { decoder: 'proofpoint' }],
  ['mandrillapp.com', { decoder: 'mandrill' }],
  ['email.mg.example.com', { decoder: 'mailgun' }],
  ['www.google.com', { decoder: 'query', param: 'q' }],
];

function step(u: URL): string | null {
  const hit = WRAPPERS.find(([host]) => u.hostname === host || u.hostname.endsWith(`.${host}`));
  return hit === undefined ? null : decodeWith(u, hit[1]);
}

const mailgun = (link: string): string => `https://email.mg.example.com/c/${deflateSync(Buffer.from(`h=abc&l=${encodeURIComponent(link)}&r=bob%40example.org`)).toString('base64url')}`;
const mandrill = (link: string): string =>
  `https://mandrillapp.com/track/click/30108723/example.com?p=${Buffer.from(JSON.stringify({ s: 'sig', v: 1, p: JSON.stringify({ u: 1, v: 1, url: link }) })).toString('base64url')}`;
const safelinks = (link: string): string => `https://nam12.safelinks.protection.outlook.com/?url=${encodeURIComponent(link)}&data=05%7C02%7C&sdata=x&reserved=0`;
const google = (link: string): string => `https://www.google.com/url?q=${encodeURIComponent(link)}&sa=D&ust=1700000000000000`;

describe('unwrapNested', () => {
  it('unwraps Safe Links around Mailgun around a Google redirect', () => {
    const url = safelinks(mailgun(google('https://example.com/final?x=1')));
    expect(unwrapNested(url, step)).toEqual({ destination: 'https://example.com/final?x=1', hops: 3 });
  });

  it('unwraps Proofpoint v3 around Mandrill', () => {
    const url = `https://urldefense.com/v3/__${mandrill('https://example.com/deal')}__;!!ABC!xyz$`;
    expect(unwrapNested(url, step)).toEqual({ destination: 'https://example.com/deal', hops: 2 });
  });

  it('stops at an opaque inner tracker and reports it as the innermost URL', () => {
    const opaque = 'https://email.mg.example.com/c/OPAQUE-TOKEN';
    expect(unwrapNested(safelinks(opaque), step)).toEqual({ destination: opaque, hops: 1 });
  });

  it('returns null when the first step fails', () => {
    expect(unwrapNested('https://example.com/plain', step)).toEqual({ destination: null, hops: 0 });
    expect(unwrapNested('not a url', step)).toEqual({ destination: null, hops: 0 });
  });

  it('stops at the depth limit', () => {
    let url = 'https://example.com/core';
    for (let i = 0; i < 8; i++) url = google(url);
    const out = unwrapNested(url, step, 5);
    expect(out.hops).toBe(5);
    expect(out.destination?.startsWith('https://www.google.com/url?q=')).toBe(true);
    expect(unwrapNested(url, step, 20)).toEqual({ destination: 'https://example.com/core', hops: 8 });
    expect(unwrapNested(url, step, 0)).toEqual({ destination: null, hops: 0 });
  });

  it('stops on a loop', () => {
    const a = 'https://a.example/';
    const b = 'https://b.example/';
    const flip = (u: URL): string => (u.href === a ? b : a);
    expect(unwrapNested(a, flip, 50)).toEqual({ destination: b, hops: 1 });
    expect(unwrapNested(a, () => a)).toEqual({ destination: null, hops: 0 });
    // same URL spelled differently still counts as seen
    expect(unwrapNested('https://A.example', () => 'https://a.example/')).toEqual({ destination: null, hops: 0 });
  });

  it('treats a throwing step or an unparsable result as the end', () => {
    expect(
      unwrapNested('https://a.example/', () => {
        throw new Error('boom');
      }),
    ).toEqual({ destination: null, hops: 0 });
    const twice = (u: URL): string => (u.hostname === 'a.example' ? 'https://b.example/' : 'not a url');
    expect(unwrapNested('https://a.example/', twice)).toEqual({ destination: 'https://b.example/', hops: 1 });
  });
});
