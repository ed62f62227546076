import { urlFromBase64Json } from './base64-json.js';
import { queryValues } from './text.js';
import type { Decoder } from './types.js';

/**
 * Mandrill (Mailchimp Transactional): https://mandrillapp.com/track/click/<user id>/<dest host>?p=<token>.
 * The token is base64url of {"s":"<signature>","v":1,"p":"<JSON string>"} whose inner JSON is
 * {"u":<user id>,"v":1,"url":"<destination>","id":"<message id>","url_ids":[...]}. An older
 * single-level form carries "url" at the top.
 */
export const mandrillDecoder: Decoder = {
  id: 'mandrill',
  description: 'Mandrill /track/click/<id>/<host>?p=<base64url({"p":"{\\"url\\":...}"})>.',
  decode(url) {
    for (const token of queryValues(url, 'p')) {
      const d = urlFromBase64Json(token, 'p.url') ?? urlFromBase64Json(token, 'url');
      if (d !== null) return d;
    }
    return null;
  },
};
