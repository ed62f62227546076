import { inflatedText } from './base64-zlib.js';
import { firstHttpUrlIn, parseJson } from './json.js';
import { rawSegments, segmentAfter, toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/**
 * Mailgun click links: https://email.<sending domain>/c/<token>. The token is base64url of a zlib
 * stream ("eJ..." is the zlib header) holding a form-encoded record, e.g.
 *   d=5b5d7&e=1760612268&h=<hmac>&i=<message id>&l=https%3A%2F%2Fexample.com%2F&r=<recipient>&v=2
 * where `l` is the link (sometimes without a scheme: "l=www.example.com"). Tokens that do not
 * inflate (other Mailgun generations, truncation) are opaque: null.
 */
function mailgunToken(url: URL): string | null {
  return segmentAfter(url, ['c']) ?? rawSegments(url).at(-1) ?? null;
}

function linkFromRecord(text: string): string | null {
  if (text.trimStart().startsWith('{')) {
    const root = parseJson(text);
    if (typeof root === 'object' && root !== null && 'l' in root && typeof root.l === 'string') {
      return toHttpUrl(root.l, { percentLevels: 1, schemeless: true });
    }
    return firstHttpUrlIn(root);
  }
  const link = new URLSearchParams(text).get('l');
  return link === null ? null : toHttpUrl(link, { percentLevels: 1, schemeless: true });
}

export const mailgunDecoder: Decoder = {
  id: 'mailgun',
  description: 'Mailgun /c/<base64url(zlib("...&l=<link>&r=<recipient>..."))>; null when the token does not inflate.',
  decode(url) {
    const token = mailgunToken(url);
    const text = token === null ? null : inflatedText(token);
    return text === null ? null : linkFromRecord(text);
  },
};
