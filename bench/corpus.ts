/**
 * Reading the evaluation corpus (fixtures/corpus/): its labels, and the text a recipient's client
 * would see in a message (top-level header block plus every text/* part with its transfer encoding
 * and charset undone, walking into message/rfc822 parts). Kept here rather than imported from
 * test/ so that the compiled bench runs on its own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { splitMessage, partNumber, type MimeNode } from '../src/mime/split.js';
import { decodeBody, transferEncoding } from '../src/mime/transfer.js';
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

/** Top-level header block (List-Unsubscribe lives there) and every decoded text part. */
export async function visibleText(raw: Buffer): Promise<string> {
  const end = raw.indexOf('\r\n\r\n');
  const head = (end < 0 ? raw : raw.subarray(0, end)).toString('latin1').replace(/\r\n[ \t]+/g, ' ');
  return [head, ...(await textParts(raw, ''))].join('\n');
}

async function textParts(raw: Buffer, prefix: string): Promise<string[]> {
  const chunks = await splitMessage(raw, { maxParts: 10_000, maxHeadBytes: 1 << 20 });
  const out: string[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    if (c.type !== 'node' || c.multipart) continue;
    const node = c as MimeNode;
    const body: Buffer[] = [];
    while (chunks[i + 1]?.type === 'body') body.push((chunks[++i] as { value: Buffer }).value);
    const ct = (node.contentType || 'text/plain').toLowerCase();
    const part = prefix + partNumber(node);
    const bytes = decodeBody(Buffer.concat(body), transferEncoding(node.encoding, part), part);
    if (ct === 'message/rfc822' || ct === 'message/global') {
      out.push(...(await textParts(bytes, `${part}.`)));
      continue;
    }
    if (!ct.startsWith('text/')) continue;
    const charset = (node.charset || 'us-ascii').toLowerCase();
    out.push(iconv.decode(bytes, iconv.encodingExists(charset) ? charset : 'latin1'));
  }
  return out;
}

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** HTML character references undone (enough for URLs in attributes). */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|nbsp);/gi, (m, e: string) => {
    const k = e.toLowerCase();
    if (k.startsWith('#x')) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith('#')) return String.fromCodePoint(parseInt(k.slice(1), 10));
    return NAMED[k] ?? m;
  });
}

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
