import { urlFromBase64 } from './base64.js';
import { urlFromBase64Json } from './base64-json.js';
import { percentDecode, rawSegments, toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/**
 * Fallback for click trackers a rule recognises but has no specific decoder for: every query
 * value (in order), then a URL embedded in the path ("/r/https://example.com/x?y" or
 * "/r/https%3A%2F%2F..."), then every path segment. A candidate counts when it is an http(s)
 * URL plain, percent-encoded once or twice, or base64/base64url of one (or of JSON holding one).
 * The first found wins.
 */

// Shorter than base64 of "http://a.bc"; skipping them avoids decoding ids and hashes.
const MIN_BASE64_CHARS = 14;

// What base64 of a URL ("http...") or of JSON ("{..." / "[...") starts with: anything else is
// not worth decoding (ids, hashes, signatures are the common case and would all be decoded).
const BASE64_OF_URL_OR_JSON = /^(aHR0c|ey|W[3-9A-F])/;

function fromValue(v: string): string | null {
  const plain = toHttpUrl(v, { percentLevels: 2 });
  if (plain !== null || v.length < MIN_BASE64_CHARS || !BASE64_OF_URL_OR_JSON.test(v)) return plain;
  return urlFromBase64(v) ?? urlFromBase64Json(v);
}

const EMBEDDED = /\/(https?(?::|%3A))/i;

function embeddedInPath(url: URL): string | null {
  const m = EMBEDDED.exec(url.pathname);
  if (m === null) return null;
  const rest = url.pathname.slice(m.index + 1);
  // A literal "https://" in the path carries the destination's own query and fragment along.
  if (/^https?:/i.test(rest)) return toHttpUrl(`${rest}${url.search}${url.hash}`);
  const first = rest.split('/')[0] ?? '';
  const decoded = percentDecode(first);
  return decoded === null ? null : toHttpUrl(decoded, { percentLevels: 1 });
}

export const genericDecoder: Decoder = {
  id: 'generic',
  description: 'Fallback: first query value, path-embedded URL or path segment that is an http(s) URL (plain, percent-encoded once or twice, or base64).',
  decode(url) {
    for (const v of url.searchParams.values()) {
      const d = fromValue(v);
      if (d !== null) return d;
    }
    const embedded = embeddedInPath(url);
    if (embedded !== null) return embedded;
    for (const seg of rawSegments(url)) {
      const d = fromValue(percentDecode(seg) ?? seg);
      if (d !== null) return d;
    }
    return null;
  },
};
