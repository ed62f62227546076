import { urlFromBase64 } from './base64.js';
import { urlFromBase64Json } from './base64-json.js';
import { base32Bytes, utf8 } from './bytes.js';
import { parseJson, urlFromJson } from './json.js';
import { rawSegments, segmentAfter, toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/**
 * Outreach: https://<click host>/api/mailings/click/<token>. Observed tokens are RFC 4648 base32
 * (upper case, "=" padded; "PMRGSZBC" is `{"id":`) of
 *   {"id":11306798,"url":"https://...","org":"<uuid>","version":"4","sig":"..."}.
 * base64 JSON and base64 of the bare URL are accepted too.
 */
function fromToken(token: string): string | null {
  const b32 = base32Bytes(token);
  const text = b32 === null ? null : utf8(b32);
  const root = text === null ? undefined : parseJson(text);
  if (root !== undefined) return urlFromJson(root, 'url') ?? urlFromJson(root);
  return urlFromBase64Json(token, 'url') ?? urlFromBase64Json(token) ?? urlFromBase64(token);
}

export const outreachDecoder: Decoder = {
  id: 'outreach',
  description: 'Outreach /api/mailings/click/<base32 JSON {"url":...}> (base64 JSON or base64 URL also accepted).',
  decode(url) {
    // newer links also carry the target in a plain `href` parameter
    const href = url.searchParams.get('href');
    const plain = href === null ? null : toHttpUrl(href, { percentLevels: 1, schemeless: false });
    if (plain) return plain;
    const token = segmentAfter(url, ['mailings', 'click']) ?? segmentAfter(url, ['click']) ?? rawSegments(url).at(-1);
    return token === undefined || token === null ? null : fromToken(token);
  },
};
