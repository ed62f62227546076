/**
 * HTML character references in attribute values that hold URLs: decoded exactly as browsers do
 * (a decoder that knows fewer references than the client is a way to hide a tracker), and encoded
 * back in ASCII only, so a rewritten URL is right in any charset.
 */
import { decodeHTMLAttribute } from 'entities';
/** As a browser decodes an attribute value (HTML spec), e.g. `&#0000000104;` and `&commat;`. */
export function decodeEntities(s: string): string {
  return s.includes('&') ? decodeHTMLAttribute(s) : s;
}

/** Escape a URL for an attribute value written with `quote` ('"', "'" or '' for unquoted). */
export function encodeAttribute(url: string, quote: string, ampAsEntity: boolean): string {
  let out = ampAsEntity ? url.replace(/&/g, '&amp;') : url;
  // the part may be any charset and is edited byte-transparently: write non-ASCII as references
  out = out.replace(/[^\x00-\x7e]/gu, (c) => `&#x${c.codePointAt(0)!.toString(16)};`);
  if (quote === '"') out = out.replace(/"/g, '&quot;');
  else if (quote === "'") out = out.replace(/'/g, '&#39;');
  return out;
}
