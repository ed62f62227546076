import { base64Text } from './bytes.js';
import { firstDecoded, locateTokens } from './locate.js';
import { toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/** A base64 token whose text is the destination, optionally percent-encoded once more. */
export function urlFromBase64(token: string): string | null {
  const text = base64Text(token);
  return text === null ? null : toHttpUrl(text, { percentLevels: 1 });
}

export const base64Decoder: Decoder = {
  id: 'base64',
  description: 'Destination as base64/base64url text (padding optional) in query `param` or path `segment` (index, negative from end); neither: every value.',
  decode(url, spec) {
    return firstDecoded(locateTokens(url, spec), urlFromBase64);
  },
};
