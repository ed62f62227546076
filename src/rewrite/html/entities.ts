/**
 * Minimal HTML character reference decoding/encoding for attribute values that hold URLs. URLs are
 * ASCII, so the handful of named references that occur in them plus numeric ones is enough; an
 * unknown named reference stays as written (that is also what browsers do with most of them).
 */
const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  equals: '=',
  quest: '?',
  num: '#',
  sol: '/',
  colon: ':',
  percnt: '%',
  period: '.',
  lowbar: '_',
  hyphen: '-',
  plus: '+',
  semi: ';',
  comma: ',',
  excl: '!',
  tilde: '~',
};

const REF = /&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z]{2,8});?/g;

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(REF, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    const v = NAMED[body.toLowerCase()];
    return v === undefined ? m : v;
  });
}

/** Escape a URL for an attribute value written with `quote` ('"', "'" or '' for unquoted). */
export function encodeAttribute(url: string, quote: string, ampAsEntity: boolean): string {
  let out = ampAsEntity ? url.replace(/&/g, '&amp;') : url;
  if (quote === '"') out = out.replace(/"/g, '&quot;');
  else if (quote === "'") out = out.replace(/'/g, '&#39;');
  return out;
}
