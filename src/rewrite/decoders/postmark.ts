import { percentDecode, toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/**
 * Postmark: https://click.pstmrk.it/<2|3><m|s|t...>/<percent-encoded URL without scheme>/<token>/...
 * e.g. /3s/www.example.com%2Fdocs%3Fa%3D1/AbCd/EfGh/... The scheme is dropped; Postmark
 * redirects to https, and so does this.
 */
const POSTMARK_PATH = /^\/[23][mst]{0,2}\/([^/]+)/;

export const postmarkDecoder: Decoder = {
  id: 'postmark',
  description: 'Postmark pstmrk.it /<2s|3s|2sm|3ts...>/<percent-encoded host+path, no scheme>/...; https assumed.',
  decode(url) {
    const m = POSTMARK_PATH.exec(url.pathname);
    const decoded = m?.[1] === undefined ? null : percentDecode(m[1]);
    return decoded === null ? null : toHttpUrl(decoded, { percentLevels: 1, schemeless: true });
  },
};
