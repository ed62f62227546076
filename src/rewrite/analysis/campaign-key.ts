/**
 * How copies of one campaign are recognised, and how their URLs are lined up. Pure.
 *
 * Campaign key = sender + subject skeleton + HTML skeleton + link skeleton:
 * - sender: the From header's address (lower-cased) and the envelope sender's domain only, because
 *   bulk tools put the recipient into the envelope sender (VERP bounce addresses);
 * - subject skeleton: RFC 2047 decoded, lower-cased, digit runs as "0", the recipient's name (words
 *   of the To display name and of the address's local part) as "*", and a leading or trailing
 *   vocative ("Alice, your offer", "Your offer, Alice") as "*"; replies and forwards (Re:, Fwd:,
 *   AW:, ...) are person-to-person mail and have no key;
 * - HTML skeleton: the sequence of tag names of every text/html part (no text, no attributes);
 * - link skeleton: the template of every URL in message order (see below).
 * Copies personalised beyond that (per-recipient blocks, other links) get different keys: they are
 * not merged, so nothing is learned from them, which is the safe side. Two different newsletters
 * of one sender differ in subject, markup or links, so they never merge.
 *
 * URL template = host + number of path segments + sorted query parameter names, e.g.
 * `news.example.com/*\/*\/*?t&utm_source`: no values. A URL's positions are its path segments
 * ("path 2", 1-based) and query parameters ("query t"). The n-th URL with a template in one copy is
 * lined up with the n-th URL with that template in every other copy (the link skeleton is part of
 * the key, so the order is the same in every copy).
 */
import { createHash } from 'node:crypto';

import { httpUrl } from '../links.js';
import type { Candidate } from '../detectors/types.js';
import type { Position } from '../../campaign/store.js';
import type { MessageHeaders, MessageView } from './types.js';

/** Positions looked at per URL: path segments and parameters beyond these are not learned. */
const MAX_POSITIONS = 32;

export interface UrlShape {
  readonly template: string;
  /** Position -> value as written (percent-encoding kept for path segments). */
  readonly values: Map<Position, string>;
  /** Query parameter name behind each "query ..." position (for stripping). */
  readonly params: Map<Position, string>;
}

/** Template and positions of an http(s) URL; null for anything else. */
export function urlShape(raw: string): UrlShape | null {
  const url = httpUrl(raw);
  if (!url) return null;
  const values = new Map<Position, string>();
  const params = new Map<Position, string>();
  const segments = url.pathname.split('/').slice(1);
  segments.forEach((seg, i) => {
    if (values.size < MAX_POSITIONS) values.set(`path ${i + 1}`, seg);
  });
  const names: string[] = [];
  const query = queryOf(raw);
  if (query) {
    const counts = new Map<string, number>();
    for (const pair of query.split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      const name = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
      const n = (counts.get(name) ?? 0) + 1;
      counts.set(name, n);
      names.push(name);
      const position = n === 1 ? `query ${name}` : `query ${name}[${n}]`;
      if (values.size < MAX_POSITIONS) {
        values.set(position, eq < 0 ? '' : safeDecode(pair.slice(eq + 1)));
        params.set(position, name);
      }
    }
  }
  const template = `${url.host.toLowerCase()}${'/*'.repeat(segments.length)}${names.length ? `?${[...new Set(names)].sort().join('&')}` : ''}`;
  return { template, values, params };
}

/**
 * The template as the audit log shows it: varying positions as `{v}`, path words that cannot name
 * anyone (letters only, short) as written, anything else `*`.
 */
export function displayShape(raw: string, varying: ReadonlySet<Position>): string {
  const url = httpUrl(raw);
  if (!url) return '';
  const path = url.pathname
    .split('/')
    .slice(1)
    .map((seg, i) => (varying.has(`path ${i + 1}`) ? '{v}' : /^[A-Za-z_-]{1,20}$/.test(seg) ? seg : seg === '' ? '' : '*'))
    .join('/');
  const shape = urlShape(raw);
  const query = shape ? [...shape.params].map(([pos, name]) => `${name}=${varying.has(pos) ? '{v}' : '*'}`) : [];
  return `/${path}${query.length ? `?${query.join('&')}` : ''}`;
}

/** The URL without the given query positions (other bytes as written). */
export function withoutParams(raw: string, positions: ReadonlySet<Position>): { url: string; removed: string[] } {
  const hashAt = raw.indexOf('#');
  const beforeHash = hashAt < 0 ? raw : raw.slice(0, hashAt);
  const fragment = hashAt < 0 ? '' : raw.slice(hashAt);
  const q = beforeHash.indexOf('?');
  if (q < 0) return { url: raw, removed: [] };
  const counts = new Map<string, number>();
  const removed: string[] = [];
  const kept = beforeHash
    .slice(q + 1)
    .split('&')
    .filter((pair) => {
      if (!pair) return true;
      const eq = pair.indexOf('=');
      const name = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
      const n = (counts.get(name) ?? 0) + 1;
      counts.set(name, n);
      if (!positions.has(n === 1 ? `query ${name}` : `query ${name}[${n}]`)) return true;
      removed.push(name);
      return false;
    });
  return { url: beforeHash.slice(0, q) + (kept.length ? `?${kept.join('&')}` : '') + fragment, removed };
}

/** The URL with the given path positions as `*` and the given query positions removed. */
export function starred(raw: string, positions: ReadonlySet<Position>): string {
  const url = httpUrl(raw);
  if (!url) return raw;
  const path = url.pathname
    .split('/')
    .map((seg, i) => (i > 0 && positions.has(`path ${i}`) ? '*' : seg))
    .join('/');
  const rest = withoutParams(raw, positions).url;
  const q = rest.indexOf('?');
  return `${url.protocol}//${url.host}${path}${q < 0 ? '' : rest.slice(q).replace(/#.*$/, '')}`;
}

export interface PlacedShape {
  readonly candidate: Candidate;
  readonly shape: UrlShape;
  readonly occurrence: number;
}

/** Every http(s) URL of the message with its template occurrence number, in message order. */
export function placedShapes(view: MessageView): PlacedShape[] {
  const seen = new Map<string, number>();
  const out: PlacedShape[] = [];
  for (const { candidate } of view.candidates) {
    const shape = urlShape(candidate.url);
    if (!shape) continue;
    const occurrence = seen.get(shape.template) ?? 0;
    seen.set(shape.template, occurrence + 1);
    out.push({ candidate, shape, occurrence });
  }
  return out;
}

/**
 * The campaign key's canonical text, or null when the message is not campaign-like (a reply or
 * forward). `envelopeSender` is the MAIL FROM address; `recipients` the envelope recipients.
 */
export function campaignKey(view: MessageView, shapes: readonly PlacedShape[], envelopeSender: string, recipients: readonly string[]): string | null {
  const subject = subjectSkeleton(view.headers, recipients);
  if (subject === null) return null;
  const from = fromAddress(view.headers);
  const envelopeDomain = envelopeSender.includes('@') ? envelopeSender.slice(envelopeSender.lastIndexOf('@') + 1).toLowerCase() : '';
  const tags = createHash('sha256');
  for (const p of view.texts ?? []) {
    if (p.contentType !== 'text/html') continue;
    for (const m of p.text.matchAll(TAG)) tags.update(`${m[1]!.toLowerCase()} `);
    tags.update('\u0000');
  }
  const links = createHash('sha256');
  for (const s of shapes) links.update(`${s.candidate.kind} ${s.candidate.technique} ${s.shape.template}\u0000`);
  return ['v1', from, envelopeDomain, subject, tags.digest('hex'), links.digest('hex')].join('\u0000');
}

/** Start and end tags; comments, doctype and text are left out. */
const TAG = /<\/?([A-Za-z][A-Za-z0-9:-]*)/g;

const REPLY_PREFIX = /^\s*(re|fwd?|aw|wg|sv|vs|antw|tr|rv|odp|enc)\s*(\[\d+\])?\s*:/i;

export function subjectSkeleton(headers: MessageHeaders, recipients: readonly string[]): string | null {
  const raw = decodeWords(headers.get('subject')[0] ?? '');
  if (REPLY_PREFIX.test(raw)) return null;
  const names = new Set<string>();
  const addName = (w: string): void => {
    const n = w.trim().toLowerCase();
    if (n.length >= 2 && /\p{L}/u.test(n)) names.add(n);
  };
  for (const to of headers.get('to')) {
    const display = decodeWords(to).replace(/<[^>]*>/g, ' ');
    for (const w of display.split(/[^\p{L}\p{N}'-]+/u)) addName(w);
  }
  for (const r of recipients) for (const w of r.split('@')[0]!.split(/[._+-]+/)) addName(w);
  let s = raw.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim();
  s = s
    .split(/([^\p{L}\p{N}'-]+)/u)
    .map((w) => (names.has(w) ? '*' : w))
    .join('');
  s = s.replace(/\p{N}+/gu, '0');
  s = s.replace(/^[\p{L}'-]+\s*,/u, '*,').replace(/,\s*[\p{L}'-]+\s*([!.?…]*)$/u, ', *$1');
  return s;
}

function fromAddress(headers: MessageHeaders): string {
  const from = headers.get('from')[0] ?? '';
  const angle = /<([^<>]*@[^<>]*)>/.exec(from);
  const bare = /[^\s<>"(),;:]+@[^\s<>"(),;:]+/.exec(from);
  return (angle?.[1] ?? bare?.[0] ?? '').trim().toLowerCase();
}

/** RFC 2047 encoded words; an unknown charset leaves the word as written (still a stable key). */
function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=(\s+(?==\?))?/g, (word, charset: string, enc: string, text: string) => {
    try {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            );
      return new TextDecoder(charset.split('*')[0]!.trim().toLowerCase()).decode(bytes);
    } catch {
      return word;
    }
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function queryOf(raw: string): string {
  const hashAt = raw.indexOf('#');
  const beforeHash = hashAt < 0 ? raw : raw.slice(0, hashAt);
  const q = beforeHash.indexOf('?');
  return q < 0 ? '' : beforeHash.slice(q + 1);
}
