import { urlFromBase64Json } from './base64-json.js';
import { segmentAfter } from './text.js';
import type { Decoder } from './types.js';

/**
 * Customer.io: https://e.customeriomail.com/e/c/<payload>/<signature>, where the payload is
 * base64url JSON such as {"email_id":"...","href":"https://...","internal":"...","link_id":24}.
 * Some links put a JWT-like "<header>.<payload>.<sig>" in that segment, so each dot-separated
 * part is tried.
 */
export const customerioDecoder: Decoder = {
  id: 'customerio',
  description: 'Customer.io /e/c/<base64url JSON with "href">/<signature> (JWT-like dotted segments accepted).',
  decode(url) {
    const segment = segmentAfter(url, ['e', 'c']);
    if (segment === null) return null;
    for (const part of segment.split('.')) {
      const d = urlFromBase64Json(part, 'href') ?? urlFromBase64Json(part, 'url');
      if (d !== null) return d;
    }
    return null;
  },
};
