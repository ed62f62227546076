import { fromQuery } from './query.js';
import type { Decoder } from './types.js';

/** Barracuda Link Protection: https://linkprotect.cudasvc.com/url?a=<encoded, often lower-case %3a%2f>&c=E,1,...&typo=1 */
export const barracudaDecoder: Decoder = {
  id: 'barracuda',
  description: 'Barracuda Link Protection linkprotect.cudasvc.com/url?a=<percent-encoded destination>.',
  decode(url) {
    return fromQuery(url, ['a'], false);
  },
};
