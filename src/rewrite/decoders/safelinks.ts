import { fromQuery } from './query.js';
import type { Decoder } from './types.js';

/** Microsoft Defender Safe Links: https://<region>.safelinks.protection.outlook.com/?url=<encoded>&data=...&sdata=...&reserved=0 */
export const safelinksDecoder: Decoder = {
  id: 'safelinks',
  description: 'Microsoft Safe Links *.safelinks.protection.outlook.com/?url=<percent-encoded destination>.',
  decode(url) {
    return fromQuery(url, ['url'], false);
  },
};
