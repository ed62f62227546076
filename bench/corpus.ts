/**
 * Reading the evaluation corpus (fixtures/corpus/): its labels, and the text a recipient's client
 * would see in a message (top-level header block plus every text/* part with its transfer encoding
 * and charset undone, walking into message/rfc822 parts). Kept here rather than imported from
 * test/ so that the compiled bench runs on its own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { leaves } from '../src/mime/leaves.js';
import { decodeEntities } from '../src/rewrite/html/entities.js';
import { packageRoot } from '../src/paths.js';

export type TrackerKind = 'open' | 'click';

export interface TrackerLabel {
  readonly url: string;
  readonly kind: TrackerKind;
  /** The engine's technique name (img, srcset, css-url, vml, amp, tracked-link, text-link, ...). */
  readonly technique: string;
  /** Vendor name as the rules spell it, or null for unknown senders (heuristics). */
  readonly vendor: string | null;
  /** The destination is recoverable offline (or, for parameters, the cleaned URL is known). */
  readonly decodable: boolean;
  /** Exact URL expected in the output in place of the tracker (unwrapped, per-recipient params stripped). */
  readonly destination?: string;
  /** Finer context: quoted-reply, media-print, recipient-md5, vml-fill, ... */
  readonly variant?: string;
  readonly legit?: undefined;
}

export interface LegitLabel {
  readonly url: string;
  readonly legit: true;
}

export type UrlLabel = TrackerLabel | LegitLabel;

export type Family = 'esp' | 'automation' | 'sales' | 'wrapper' | 'testing' | 'generic' | 'legit';

export interface MessageLabel {
  readonly file: string;
  readonly recipient: string;
  readonly family: Family;
  readonly scenario?: string;
  readonly urls: readonly UrlLabel[];
}

export interface CorpusLabels {
  readonly description?: string;
  readonly messages: readonly MessageLabel[];
}

export function corpusDir(): string {
  return join(packageRoot(), 'fixtures', 'corpus');
}

export function isTracker(u: UrlLabel): u is TrackerLabel {
  return u.legit !== true;
}

export function loadLabels(dir = corpusDir()): CorpusLabels {
  const parsed = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8')) as CorpusLabels;
  if (!Array.isArray(parsed.messages)) throw new Error(`${dir}/labels.json: no "messages" array`);
  return parsed;
}

const ENCODED_WORD = /=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=/g;

/** RFC 2047 encoded words decoded (whitespace between adjacent words dropped), as mail clients show headers. */
export function decodeWords(value: string): string {
  return value.replace(/(\?=)\s+(?==\?)/g, '$1').replace(ENCODED_WORD, (_all, charset: string, enc: string, text: string) => {
    const bytes =
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(
            text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
            'latin1',
          );
    const cs = charset.replace(/\*.*$/, '');
    return iconv.encodingExists(cs) ? iconv.decode(bytes, cs) : bytes.toString('latin1');
  });
}

/** Top-level header block (List-Unsubscribe lives there, raw and as clients decode it) and every decoded text part. */
export async function visibleText(raw: Buffer): Promise<string> {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
  const head = (end < 0 ? raw : raw.subarray(0, end)).toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  const decoded = head.includes('=?') ? [decodeWords(head)] : [];
  return [head, ...decoded, ...(await textParts(raw, ''))].join('\n');
}

async function textParts(raw: Buffer, _prefix: string): Promise<string[]> {
  return (await leaves(raw)).flatMap((l) => (l.text !== null ? [l.text] : []));
}

export { decodeEntities };

/** What a URL needs around it to count as that whole URL (not a prefix of a longer one). */
const AFTER_URL = /^(?:$|[\s"'<>)\]\\]|[.,;:!?](?:$|\s))/;

/** Whether `url` occurs in `text` as a whole URL. */
export function hasWholeUrl(text: string, url: string): boolean {
  if (!url) return false;
  for (let at = text.indexOf(url); at >= 0; at = text.indexOf(url, at + 1)) {
    if (AFTER_URL.test(text.slice(at + url.length, at + url.length + 2))) return true;
  }
  return false;
}

/** A message's visible text, raw and with HTML entities undone. */
export interface Haystack {
  readonly raw: string;
  readonly decoded: string;
}

export async function haystackOf(message: Buffer): Promise<Haystack> {
  const raw = await visibleText(message);
  return { raw, decoded: decodeEntities(raw) };
}

export const contains = (h: Haystack, s: string): boolean => h.raw.includes(s) || h.decoded.includes(s);
export const containsWhole = (h: Haystack, url: string): boolean => hasWholeUrl(h.raw, url) || hasWholeUrl(h.decoded, url);
