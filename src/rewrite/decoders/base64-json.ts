import { stringArg } from './args.js';
import { base64Text } from './bytes.js';
import { parseJson, urlFromJson } from './json.js';
import { firstDecoded, locateTokens } from './locate.js';
import type { Decoder } from './types.js';

/** A base64 token of JSON: the value at `key` (dot path), or the first http(s) URL anywhere. */
export function urlFromBase64Json(token: string, key?: string): string | null {
  const text = base64Text(token);
  if (text === null) return null;
  const root = parseJson(text);
  return root === undefined ? null : urlFromJson(root, key);
}

export const base64JsonDecoder: Decoder = {
  id: 'base64-json',
  description:
    'base64 of JSON; `key` (dot path, entering JSON held in strings) or else the first http(s) URL depth-first; `param` or `segment` as for base64.',
  decode(url, spec) {
    const key = stringArg(spec, 'key');
    return firstDecoded(locateTokens(url, spec), (token) => urlFromBase64Json(token, key));
  },
};
