import { base64Bytes, utf8 } from './bytes.js';
import { percentDecode, queryValues, toHttpUrl, unescapeHtml } from './text.js';
import type { Decoder } from './types.js';

/**
 * Proofpoint URL Defense, all three generations (the encodings follow Proofpoint's published
 * urldecoder.py):
 *  v1  https://urldefense.proofpoint.com/v1/url?u=<percent-encoded>&k=...
 *  v2  https://urldefense.proofpoint.com/v2/url?u=<"-XX" for "%XX", "_" for "/">&d=...&c=...
 *  v3  https://urldefense.com/v3/__<url>__;<base64url of replaced chars>!!<org>!<token>$
 *      Characters Proofpoint would not leave in place are written "*" (one replaced character)
 *      or "**X" (a run of n characters, X = n-2 in A..Za..z0..9-_), taken in order from the
 *      base64 block.
 */

function v1(url: URL): string | null {
  for (const u of queryValues(url, 'u')) {
    const d = toHttpUrl(unescapeHtml(u), { percentLevels: 1 });
    if (d !== null) return d;
  }
  return null;
}

function v2(url: URL): string | null {
  for (const u of queryValues(url, 'u')) {
    const decoded = percentDecode(u.replace(/-/g, '%').replace(/_/g, '/'));
    const d = decoded === null ? null : toHttpUrl(unescapeHtml(decoded));
    if (d !== null) return d;
  }
  return null;
}

const RUN_LENGTHS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const V3_MARKER = '/v3/__';

function v3(url: URL): string | null {
  // href, not pathname: the wrapped URL's own "?" and "&" put most of it in the outer search.
  const body = url.href.slice(url.origin.length + V3_MARKER.length);
  const end = body.indexOf('__;');
  if (end < 0) return null;
  const tail = body.slice(end + 3);
  const bang = tail.indexOf('!');
  const block = bang < 0 ? tail : tail.slice(0, bang);
  let replaced: string[] = [];
  if (block !== '') {
    const bytes = base64Bytes(block);
    const text = bytes === null ? null : utf8(bytes);
    if (text === null) return null;
    replaced = Array.from(text);
  }
  // Any "%XX" in the wrapped part was added by the outer URL parser (Proofpoint stars real "%").
  const wrapped = body.slice(0, end);
  const unquoted = percentDecode(wrapped) ?? wrapped;
  let next = 0;
  let short = false;
  const restored = unquoted.replace(/\*(\*.)?/g, (_token, run: string | undefined) => {
    const n = run === undefined ? 1 : RUN_LENGTHS.indexOf(run.charAt(1)) + 2;
    if (n < 2 && run !== undefined) short = true;
    const piece = replaced.slice(next, next + n);
    if (piece.length < n) short = true;
    next += n;
    return piece.join('');
  });
  return short ? null : toHttpUrl(restored);
}

export const proofpointDecoder: Decoder = {
  id: 'proofpoint',
  description: 'Proofpoint URL Defense v1 (/v1/url?u=), v2 (/v2/url?u= with -XX and _), v3 (/v3/__<url>__;<replaced>!...).',
  decode(url) {
    const path = url.pathname.toLowerCase();
    if (path === '/v1/url') return v1(url);
    if (path === '/v2/url') return v2(url);
    if (url.pathname.startsWith(V3_MARKER)) return v3(url);
    return null;
  },
};
