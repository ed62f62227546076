import { base64Bytes, inflateAny, utf8 } from './bytes.js';
import { firstHttpUrlIn, parseJson } from './json.js';
import { firstDecoded, locateTokens } from './locate.js';
import { toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/** The compressed text of a base64 token (zlib, gzip or raw deflate), or null. */
export function inflatedText(token: string): string | null {
  const bytes = base64Bytes(token);
  const inflated = bytes === null ? null : inflateAny(bytes);
  return inflated === null ? null : utf8(inflated);
}

function urlFromText(text: string): string | null {
  return toHttpUrl(text, { percentLevels: 1 }) ?? firstHttpUrlIn(parseJson(text));
}

export const base64ZlibDecoder: Decoder = {
  id: 'base64-zlib',
  description: 'base64(zlib | gzip | raw deflate) whose text is the destination or JSON holding it; `param` or `segment` as for base64.',
  decode(url, spec) {
    return firstDecoded(locateTokens(url, spec), (token) => {
      const text = inflatedText(token);
      return text === null ? null : urlFromText(text);
    });
  },
};
