import { stringArg } from './args.js';
import { base64Text } from './bytes.js';
import { parseJson, urlFromJson } from './json.js';
import { firstDecoded, locateTokens } from './locate.js';
import type { Decoder } from './types.js';

/** A base64 token of JSON: the value at `key` (dot path), or the first http(s) URL anywhere. */
export function urlFromBase64Json(token: string, key?: string): string | null {
  // JWT-shaped tokens (Substack's redirect/2, Customer.io): header.payload.signature, each base64url
  for (const part of token.includes('.') ? token.split('.') : [token]) {
    const text = base64Text(part);
    if (text === null) continue;
    const root = parseJson(text);
    const found = root === undefined ? null : urlFromJson(root, key);
    if (found !== null) return found;
  }
  return null;
}

export const base64JsonDecoder: Decoder = {
  id: 'base64-json',
  description: 'base64 of JSON; `key` (dot path, entering JSON held in strings) or else the first http(s) URL depth-first; `param` or `segment` as for base64.',
  decode(url, spec) {
    const key = stringArg(spec, 'key');
    return firstDecoded(locateTokens(url, spec), (token) => urlFromBase64Json(token, key));
  },
};
