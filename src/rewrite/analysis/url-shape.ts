/**
 * What the link analysers read from a URL: which values are opaque tokens (ids, hashes, signed
 * blobs) rather than words, the URL's template (host and path with the tokens blanked out), the
 * site a host belongs to, and a destination recoverable without fetching. Shared by the
 * analysers; every function here is linear in its input.
 */
import { genericDecoder } from '../decoders/generic.js';
import { toHttpUrl } from '../decoders/text.js';
import { httpUrl } from '../links.js';

export type ValueShape = 'opaque' | 'number' | 'word';

/** Shorter values are too short to single out a person or a send among a mailing list. */
const MIN_OPAQUE = 10;

function safeDecode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Shannon entropy in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * A piece of a slug that reads as a word: letters only, in one of the casings words come in, with
 * vowels where words have them. "summer", "Sale", "NEWS" are words; "xK9fQ", "qzxwvbt" are not.
 */
function wordLike(piece: string): boolean {
  if (!/^[A-Za-z\u00C0-\u024F]+$/.test(piece)) return false;
  if (!(/^[A-Z\u00C0-\u00DE]?[a-z\u00DF-\u024F]*$/.test(piece) || /^[A-Z\u00C0-\u00DE]+$/.test(piece))) return false;
  if (piece.length <= 3) return true;
  const vowels = (piece.match(/[aeiouyäöüàâéèêëîïôûùœæåø]/gi) ?? []).length;
  return vowels / piece.length >= 0.2;
}

/**
 * How one value (a path segment or a query value) reads: `word` for readable slugs
 * ("summer-sale-2026", "products", "index.html"), `number` for plain digits, `opaque` for tokens
 * (hex, base64, mixed letters and digits that no one would type) of at least MIN_OPAQUE chars.
 */
export function valueShape(raw: string): ValueShape {
  const v = safeDecode(raw);
  // ids like "40213.118" or "2026-11-30" are numbers to a template: they vary the same way
  if (/^[0-9][0-9.,:_-]*$/.test(v)) return 'number';
  if (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) return 'opaque';
  // a file name is judged by its stem: "a8f3c9e1b2d4.gif" is a token, "logo.png" is not
  const stem = v.replace(/\.[A-Za-z][A-Za-z0-9]{0,4}$/, '');
  if (stem.length < MIN_OPAQUE) return 'word';
  if (/\s/.test(stem)) return 'word';
  const pieces = stem.split(/[-_.,:~ ]+/).filter(Boolean);
  // a readable slug: words and numbers ("the-2026-guide", "product_12345")
  // "NewsletterV2", "Q4", "mail2" read as words with a version or issue number
  const versioned = (p: string): boolean => /^[A-Za-z\u00C0-\u024F]{3,}[A-Z]?[0-9]{1,4}$/.test(p) && wordLike(p.replace(/[A-Z]?[0-9]+$/, ''));
  if (pieces.every((p) => wordLike(p) || versioned(p) || /^[0-9]{1,8}$/.test(p) || (p.length <= 4 && /^[a-z0-9]+$/i.test(p)))) return 'word';
  if (/^[0-9a-f]+$/i.test(stem) && /[0-9]/.test(stem) && /[a-f]/i.test(stem)) return 'opaque';
  const classes = (/[a-z]/.test(stem) ? 1 : 0) + (/[A-Z]/.test(stem) ? 1 : 0) + (/[0-9]/.test(stem) ? 1 : 0);
  if (classes < 2) return 'word';
  return entropy(stem) >= 3 ? 'opaque' : 'word';
}

export function isOpaque(raw: string): boolean {
  return valueShape(raw) === 'opaque';
}

/** Second-level labels under which names are registered (co.uk, com.au, ...): close enough for "same site". */
const SECOND_LEVEL = /^(co|com|net|org|gov|edu|ac|or|ne|go|gob|nic|ltd|plc|sch)$/;

/** The registrable part of a host name, approximately ("news.brand.co.uk" -> "brand.co.uk"). */
export function siteOf(host: string): string {
  const labels = host.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length <= 2 || /^[0-9]+$/.test(labels[labels.length - 1]!)) return labels.join('.');
  const n = SECOND_LEVEL.test(labels[labels.length - 2]!) && labels[labels.length - 1]!.length === 2 ? 3 : 2;
  return labels.slice(-n).join('.');
}

/** The brand label of a site ("brand" for "news.brand.co.uk"): two hosts of one brand are one site to a reader. */
function brandOf(host: string): string {
  return siteOf(host).split('.')[0]!;
}

export function sameSite(a: string, b: string): boolean {
  return siteOf(a) === siteOf(b) || brandOf(a) === brandOf(b);
}

/** One position of a URL: a path segment (by index) or a query parameter (by name). */
interface Position {
  readonly key: string;
  readonly value: string;
  readonly shape: ValueShape;
}

export interface UrlShape {
  readonly url: URL;
  /** Host and path with opaque segments as `*` and numbers as `#`, plus the query's parameter names. */
  readonly template: string;
  /** The path's literal (word) segments, lower-cased. */
  readonly literals: readonly string[];
  readonly positions: readonly Position[];
}

const MAX_SEGMENTS = 32;

// every analyser reads the same links: parse each candidate's URL once per message
const SHAPES = new WeakMap<object, UrlShape | null>();

/** shapeOf for a candidate, computed once however many analysers ask. */
export function shapeOfCandidate(c: { readonly url: string }): UrlShape | null {
  let s = SHAPES.get(c);
  if (s === undefined) {
    s = shapeOf(c.url);
    SHAPES.set(c, s);
  }
  return s;
}

export function shapeOf(raw: string): UrlShape | null {
  const url = httpUrl(raw);
  if (!url) return null;
  const positions: Position[] = [];
  const literals: string[] = [];
  const parts: string[] = [url.hostname.toLowerCase()];
  const segs = url.pathname.split('/').slice(1, MAX_SEGMENTS + 1);
  segs.forEach((seg, i) => {
    const shape = valueShape(seg);
    if (shape === 'word') {
      const lit = safeDecode(seg).toLowerCase();
      literals.push(lit);
      parts.push(lit.length > 40 ? '*' : lit);
    } else parts.push(shape === 'opaque' ? '*' : '#');
    if (shape !== 'word') positions.push({ key: `/${i}`, value: seg, shape });
  });
  const names: string[] = [];
  if (url.search.length > 1) {
    for (const seg of url.search.slice(1).split('&')) {
      if (!seg) continue;
      const eq = seg.indexOf('=');
      if (eq < 0) {
        // a bare query token ("/d?<token>"): its value is the whole segment
        const shape = valueShape(seg);
        names.push(shape === 'word' ? seg.toLowerCase() : shape === 'opaque' ? '*' : '#');
        if (shape !== 'word') positions.push({ key: '?', value: seg, shape });
        continue;
      }
      const name = safeDecode(seg.slice(0, eq));
      const value = seg.slice(eq + 1);
      names.push(name);
      positions.push({ key: `?${name}`, value, shape: valueShape(value) });
    }
  }
  names.sort();
  return { url, template: `${parts.join('/')}?${names.join('&')}`, literals, positions };
}

/** Share and sign-in endpoints carry a URL on purpose: the service needs it, the reader expects it. */
const CARRIES_URL_ON_PURPOSE = /\/(share|sharer|sharearticle|intent|submit|pin|send|login|signin|sign-in|auth|oauth2?|authorize|sso|logout|translate)(?=[/.?]|$)|[?&](redirect_uri|client_id)=/i;

/**
 * A destination the URL carries (query value, URL in the path, percent-encoded or base64 path
 * segment), as an http(s) URL on another host; null when there is none or the URL carries one on
 * purpose (share buttons, sign-in redirects).
 */
export function carriedDestination(url: URL): string | null {
  if (CARRIES_URL_ON_PURPOSE.test(url.pathname + url.search)) return null;
  let found: string | null;
  try {
    found = genericDecoder.decode(url, { decoder: 'generic' });
  } catch {
    return null;
  }
  const dest = found === null ? null : toHttpUrl(found);
  if (dest === null) return null;
  const d = httpUrl(dest);
  if (!d || d.hostname.toLowerCase() === url.hostname.toLowerCase()) return null;
  return dest;
}

/** Host names (with a dot and a known-looking TLD) written in a link's text. */
const HOST_IN_TEXT = /(?:https?:\/\/)?((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?=[/:?#\s)\]>,;!]|\.?$|\.\s)/gi;
const NOT_A_TLD = /^(png|jpe?g|gif|pdf|html?|php|aspx?|js|css|txt|zip|docx?|xlsx?|pptx?)$/i;

/** Sites the link text names, e.g. "www.shop.example/sale" or "Read on example.org". */
export function sitesInText(text: string): string[] {
  if (!text || text.length > 500 || !text.includes('.')) return [];
  const out: string[] = [];
  for (const m of text.matchAll(HOST_IN_TEXT)) {
    const host = m[1]!.toLowerCase();
    const tld = host.slice(host.lastIndexOf('.') + 1);
    if (NOT_A_TLD.test(tld) || !host.includes('.')) continue;
    out.push(host);
  }
  return out;
}

/** The link text when it is nothing but a complete URL (what the reader expects to reach). */
export function urlOfText(text: string): string | null {
  const t = text.trim();
  if (/[\s…]|\.\.\./.test(t)) return null;
  const candidate = /^www\./i.test(t) ? `https://${t}` : t;
  if (!/^https?:\/\//i.test(candidate)) return null;
  const u = httpUrl(candidate);
  return u ? candidate : null;
}
