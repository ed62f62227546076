import { urlFromBase64 } from './base64.js';
import { queryValues, toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/**
 * ActiveCampaign has two click formats:
 *  - https://<account>.lt.acemlnb.com/Prod/link-tracker?redirectUrl=<base64(percent-encoded URL)>&sig=...
 *    (also lt.acemlna/c/d.com, lt.emlnk9.com, ...): decodable.
 *  - https://<account>.acemlna.com/lt.php?s=<hash>&i=<ids>[&l=<link>]: decodable only when `l`
 *    holds a URL (plain or base64); with s and i alone the link lives in ActiveCampaign's
 *    database and this returns null.
 */
export const activecampaignDecoder: Decoder = {
  id: 'activecampaign',
  description: 'ActiveCampaign link-tracker?redirectUrl=<base64> and lt.php?...&l=<url or base64>; lt.php with only s/i is opaque.',
  decode(url) {
    for (const v of queryValues(url, 'redirectUrl')) {
      const d = urlFromBase64(v) ?? toHttpUrl(v, { percentLevels: 1 });
      if (d !== null) return d;
    }
    for (const v of queryValues(url, 'l')) {
      const d = toHttpUrl(v, { percentLevels: 1 }) ?? urlFromBase64(v);
      if (d !== null) return d;
    }
    return null;
  },
};
