/**
 * The real-mail evaluation set (fixtures/real/, see its README.md): labels, where the messages are,
 * the URLs a reader's client would load or follow, and how one half scores.
 *
 * Labels are written by a person looking at the message, never by running the engine; this file
 * only reads them. Each `NAME.labels.yaml` names its message and the message's SHA-256, so a label
 * file can never silently apply to other bytes.
 *
 * The URL extraction here is deliberately independent of the engine's detectors: HTML parts are
 * parsed with parse5 (through cheerio) as a browser would, and Outlook's conditional comments are
 * read as Outlook reads them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'cheerio';
import type { AnyNode } from 'domhandler';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { leaves } from '../src/mime/leaves.js';
import { packageRoot } from '../src/paths.js';
import { SqliteCampaignStore } from '../src/campaign/sqlite.js';
import { rewriteMessage, type RewriteOptions } from '../src/rewrite/engine.js';
import type { loadRules } from '../src/rewrite/rules/index.js';
import { NO_CONSENT, type Finding } from '../src/rewrite/types.js';
import { containsWhole, decodeWords, haystackOf, type Haystack } from './corpus.js';

type RuleSet = ReturnType<typeof loadRules>;

export const HALVES = ['dev', 'heldout'] as const;
export type Half = (typeof HALVES)[number];

/** What a careful reader sees a URL as. */
export const LABELS = ['pixel', 'tracked-link', 'recipient-param', 'legit-link', 'legit-image', 'unsubscribe', 'ignore'] as const;
export type Label = (typeof LABELS)[number];

const entrySchema = z
  .strictObject({
    /** Exactly one of url / prefix / regex says which URLs the entry covers. */
    url: z.string().min(1).optional(),
    prefix: z.string().min(1).optional(),
    regex: z.string().min(1).optional(),
    label: z.enum(LABELS),
    /** recipient-param: the parameter(s) holding the per-recipient value. */
    params: z.array(z.string().min(1)).min(1).optional(),
    /** The real destination, where a careful person can read it from the URL offline (url entries only). */
    destination: z
      .string()
      .regex(/^https?:\/\//)
      .optional(),
    note: z.string().optional(),
  })
  .superRefine((e, ctx) => {
    const n = [e.url, e.prefix, e.regex].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of url, prefix, regex' });
    if (e.regex !== undefined) {
      try {
        new RegExp(e.regex);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `bad regex: ${(err as Error).message}` });
      }
    }
    if (e.label === 'recipient-param' && !e.params) ctx.addIssue({ code: 'custom', message: 'recipient-param needs params' });
    if (e.params && e.label !== 'recipient-param') ctx.addIssue({ code: 'custom', message: 'params only with recipient-param' });
    if (e.destination !== undefined && e.url === undefined) ctx.addIssue({ code: 'custom', message: 'destination only on a url entry' });
  });

export const labelsSchema = z.strictObject({
  /** File name of the message (looked up beside the labels, then in the real-mail data directory). */
  message: z.string().regex(/^[A-Za-z0-9._-]+\.eml$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Key of the source in SOURCES.md (one repository); a source is wholly in one half. */
  source: z.string().min(1),
  /** The same mailing sent to another recipient (file name in the same half), if there is one. */
  pair: z
    .string()
    .regex(/^[A-Za-z0-9._-]+\.eml$/)
    .optional(),
  /** Envelope recipients to filter for; default: the addresses in the To header. */
  recipients: z.array(z.string().includes('@')).optional(),
  /** What kind of mail a reader would call it. */
  kind: z.enum(['marketing', 'newsletter', 'transactional', 'personal', 'mailing-list', 'notification', 'spam']),
  /** Sender system as far as it can be told (ESP, tool), or "none". */
  sender: z.string().min(1),
  /** First match wins; URLs no entry matches are legit-image (loaded) or legit-link (followed), unsubscribe in List-Unsubscribe. */
  urls: z.array(entrySchema).default([]),
  notes: z.string().optional(),
});
export type Labels = z.infer<typeof labelsSchema>;
export type Entry = z.infer<typeof entrySchema>;

// ------------------------------------------------------------------ where things are

export function realDir(): string {
  return join(packageRoot(), 'fixtures', 'real');
}

/**
 * Where the message bytes are, if not beside their labels: $CONSENT_RELAY_REAL_MAIL, else a
 * real-mail/ folder in the shared folder beside the checkout (CI's layout) or beside it.
 */
export function mailDirs(): string[] {
  const root = packageRoot();
  const env = process.env.CONSENT_RELAY_REAL_MAIL;
  const dirs = env ? [env] : [];
  for (const up of ['..', join('..', '..')]) dirs.push(join(root, up, 'shared', 'real-mail'), join(root, up, 'real-mail'));
  return dirs;
}

export interface LabelledMessage {
  readonly half: Half;
  /** Message name without .eml. */
  readonly name: string;
  readonly labels: Labels;
  /** Where the message was found, or null when it is not on this machine. */
  readonly path: string | null;
  /** Set when the bytes found do not have the labelled SHA-256. */
  readonly badHash?: string;
}

export function loadHalf(half: Half, dir = realDir()): LabelledMessage[] {
  const here = join(dir, half);
  if (!existsSync(here)) return [];
  const out: LabelledMessage[] = [];
  for (const f of readdirSync(here)
    .filter((x) => x.endsWith('.labels.yaml'))
    .sort()) {
    const file = join(here, f);
    const parsed = labelsSchema.safeParse(parseYaml(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
    const labels = parsed.data;
    const name = labels.message.replace(/\.eml$/, '');
    if (f !== `${name}.labels.yaml`) throw new Error(`${file}: labels for ${labels.message} must be named ${name}.labels.yaml`);
    const candidates = [join(here, labels.message), ...mailDirs().map((d) => join(d, half, labels.message))];
    const path = candidates.find((p) => existsSync(p)) ?? null;
    let badHash: string | undefined;
    if (path) {
      const sum = createHash('sha256').update(readFileSync(path)).digest('hex');
      if (sum !== labels.sha256) badHash = sum;
    }
    out.push({ half, name, labels, path, ...(badHash ? { badHash } : {}) });
  }
  return out;
}

// ------------------------------------------------------------------ URLs in a message

export type Where = 'load' | 'link' | 'text' | 'header';

export interface Occurrence {
  readonly url: string;
  readonly where: Where;
  /** Element and attribute (or header name, or "text"). */
  readonly element: string;
  /** Link text, image alt, or size hints: for people listing URLs, not for scoring. */
  readonly context: string;
}

const URL_IN_TEXT = /https?:\/\/[^\s<>"'`{}|\\^\][]+/g;
const CSS_URL = /url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3/gi;

/** A URL in plain text ends where a reader sees it end: before an unbalanced ")" (markdown links) and trailing punctuation. */
function cleanTextUrl(u: string): string {
  let depth = 0;
  for (let i = 0; i < u.length; i++) {
    if (u[i] === '(') depth++;
    else if (u[i] === ')' && --depth < 0) {
      u = u.slice(0, i);
      break;
    }
  }
  return u.replace(/[.,;:!?)>*_]+$/, '');
}

const isHttp = (u: string): boolean => /^https?:\/\//i.test(u.trim());

function cssUrls(css: string): string[] {
  const out: string[] = [];
  for (const m of css.matchAll(CSS_URL)) {
    const u = (m[2] ?? m[4] ?? '').trim();
    if (isHttp(u)) out.push(u);
  }
  return out;
}

/** srcset candidates as the HTML spec reads them: a URL runs to whitespace (commas inside it stay), descriptors to a comma. */
function srcsetUrls(v: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    while (i < v.length && /[\s,]/.test(v[i]!)) i++;
    let j = i;
    while (j < v.length && !/\s/.test(v[j]!)) j++;
    let url = v.slice(i, j);
    i = j;
    if (url.endsWith(',')) url = url.replace(/,+$/, '');
    else while (i < v.length && v[i] !== ',') i++;
    if (url) out.push(url);
  }
  return out;
}

const LOAD_ATTRS: ReadonlyArray<readonly [string, string]> = [
  ['img', 'src'],
  ['input', 'src'],
  ['video', 'src'],
  ['video', 'poster'],
  ['audio', 'src'],
  ['source', 'src'],
  ['track', 'src'],
  ['script', 'src'],
  ['iframe', 'src'],
  ['frame', 'src'],
  ['embed', 'src'],
  ['object', 'data'],
  ['link', 'href'],
  ['image', 'href'],
  ['image', 'xlink:href'],
  ['v\\:fill', 'src'],
  ['v\\:image', 'src'],
  ['v\\:imagedata', 'src'],
];

function htmlOccurrences(html: string, out: Occurrence[], depth = 0): void {
  const $ = load(html);
  const text = (el: AnyNode): string => $(el).text().replace(/\s+/g, ' ').trim().slice(0, 60);
  for (const el of $('a[href], area[href]').toArray()) {
    const href = ($(el).attr('href') ?? '').trim();
    if (!isHttp(href)) continue;
    const img = $(el).find('img').attr('alt');
    const own = text(el) || (img !== undefined ? `[img alt="${img.slice(0, 40)}"]` : '');
    // a short link text ("hier", "here") says little without its sentence
    const around = own.length < 12 ? $(el).parent().text().replace(/\s+/g, ' ').trim().slice(0, 90) : '';
    out.push({ url: href, where: 'link', element: `${(el as { name?: string }).name ?? 'a'}@href`, context: around && around !== own ? `${own} ‹${around}›` : own });
  }
  for (const [tag, attr] of LOAD_ATTRS) {
    for (const el of $(`${tag}[${attr.replace(':', '\\:')}]`).toArray()) {
      const u = ($(el).attr(attr) ?? '').trim();
      if (!isHttp(u)) continue;
      const a = $(el).attr();
      const hints = [
        a?.width ? `w=${a.width}` : '',
        a?.height ? `h=${a.height}` : '',
        a?.alt !== undefined ? `alt="${a.alt!.slice(0, 40)}"` : '',
        a?.rel ? `rel=${a.rel}` : '',
        a?.style ? `style="${a.style!.slice(0, 60)}"` : '',
      ]
        .filter(Boolean)
        .join(' ');
      out.push({ url: u, where: 'load', element: `${tag.replace('\\', '')}@${attr}`, context: hints });
    }
  }
  for (const el of $('img[srcset], source[srcset]').toArray()) {
    for (const u of srcsetUrls($(el).attr('srcset') ?? '')) {
      if (isHttp(u)) out.push({ url: u, where: 'load', element: `${(el as { name?: string }).name}@srcset`, context: '' });
    }
  }
  for (const el of $('[background]').toArray()) {
    const u = ($(el).attr('background') ?? '').trim();
    if (isHttp(u)) out.push({ url: u, where: 'load', element: `${(el as { name?: string }).name}@background`, context: '' });
  }
  for (const el of $('[style]').toArray()) {
    for (const u of cssUrls($(el).attr('style') ?? '')) out.push({ url: u, where: 'load', element: `${(el as { name?: string }).name}@style`, context: '' });
  }
  for (const el of $('style').toArray()) {
    for (const u of cssUrls($(el).text())) out.push({ url: u, where: 'load', element: 'style', context: '' });
  }
  // Outlook reads conditional comments: what is inside them is content for its readers
  if (depth < 4) {
    const walk = (nodes: AnyNode[]): void => {
      for (const n of nodes) {
        if (n.type === 'comment') {
          const data = (n as unknown as { data: string }).data;
          if (/^\s*\[if /i.test(data)) htmlOccurrences(data.replace(/^\s*\[if[^\]]*\]>/i, '').replace(/<!\[endif\]\s*$/i, ''), out, depth + 1);
        } else if ('children' in n && Array.isArray((n as { children?: AnyNode[] }).children)) walk((n as { children: AnyNode[] }).children);
      }
    };
    walk($.root().toArray());
  }
}

function headerBlock(raw: Buffer): string {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
  const head = (end < 0 ? raw : raw.subarray(0, end)).toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  return head.includes('=?') ? decodeWords(head) : head;
}

export function headerValue(raw: Buffer, name: string): string | null {
  const re = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im');
  return re.exec(headerBlock(raw))?.[1] ?? null;
}

/** Every http(s) URL a reader's client would load or offer to follow, in document order. */
export async function occurrences(raw: Buffer): Promise<Occurrence[]> {
  const out: Occurrence[] = [];
  for (const line of headerBlock(raw).split(/\r?\n/)) {
    const m = /^(List-[A-Za-z-]+):(.*)$/i.exec(line);
    if (!m) continue;
    for (const u of m[2]!.matchAll(/<(https?:\/\/[^>]+)>/gi)) out.push({ url: u[1]!.trim(), where: 'header', element: m[1]!, context: '' });
  }
  let parts: Awaited<ReturnType<typeof leaves>>;
  try {
    parts = await leaves(raw);
  } catch {
    // a body the MIME reader refuses (e.g. an unknown transfer encoding): its URLs as they stand in the bytes
    for (const m of raw.toString('latin1').matchAll(URL_IN_TEXT)) out.push({ url: cleanTextUrl(m[0]), where: 'text', element: 'raw', context: '' });
    return out;
  }
  for (const leaf of parts) {
    if (leaf.text === null || leaf.disposition === 'attachment') continue;
    if (leaf.contentType === 'text/html') htmlOccurrences(leaf.text, out);
    else if (leaf.contentType === 'text/plain' || leaf.contentType === 'text/enriched') {
      for (const m of leaf.text.matchAll(URL_IN_TEXT)) {
        const before = leaf.text
          .slice(Math.max(0, m.index - 60), m.index)
          .replace(/\s+/g, ' ')
          .trim();
        out.push({ url: cleanTextUrl(m[0]), where: 'text', element: 'text', context: before });
      }
    }
  }
  return out;
}

/** Addresses in the To header (the default recipients). */
export function toAddresses(raw: Buffer): string[] {
  const to = headerValue(raw, 'To') ?? '';
  return [...new Set([...to.matchAll(/[A-Za-z0-9._%+'=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g)].map((m) => m[0].toLowerCase()))];
}

// ------------------------------------------------------------------ labelling

export interface LabelledUrl {
  readonly url: string;
  readonly label: Label;
  readonly where: readonly Where[];
  readonly entry: Entry | null;
}

export function entryMatches(e: Entry, url: string): boolean {
  if (e.url !== undefined) return url === e.url;
  if (e.prefix !== undefined) return url.startsWith(e.prefix);
  return new RegExp(e.regex!).test(url);
}

/** Each distinct URL of the message with its label (first matching entry, else the default). */
export function labelUrls(occ: readonly Occurrence[], labels: Labels): LabelledUrl[] {
  const byUrl = new Map<string, Set<Where>>();
  for (const o of occ) {
    let w = byUrl.get(o.url);
    if (!w) {
      w = new Set();
      byUrl.set(o.url, w);
    }
    w.add(o.where);
  }
  const out: LabelledUrl[] = [];
  for (const [url, where] of byUrl) {
    const entry = labels.urls.find((e) => entryMatches(e, url)) ?? null;
    const label: Label = entry ? entry.label : where.has('header') && where.size === 1 ? 'unsubscribe' : where.has('load') ? 'legit-image' : 'legit-link';
    out.push({ url, label, where: [...where], entry });
  }
  return out;
}

// ------------------------------------------------------------------ scoring

export type MissKind = 'tracked-link' | 'recipient-param' | 'pixel' | 'legit-lost' | 'broken' | 'unsubscribe-lost' | 'error';

export interface RealMiss {
  readonly half: Half;
  readonly message: string;
  readonly kind: MissKind;
  readonly url: string;
  /** Why, in words: what the engine did with this URL. */
  readonly detail: string;
}

export interface HalfMetrics {
  messages: number;
  /** Labelled messages whose bytes are not on this machine (not scored). */
  missing: number;
  links: number;
  linksHandled: number;
  pixels: number;
  pixelsRemoved: number;
  legit: number;
  legitLost: number;
  unsubscribe: number;
  unsubscribeLost: number;
  broken: number;
  /** Tracked links with a labelled destination, and how many were unwrapped to exactly it. */
  decodable: number;
  unwrapped: number;
  errors: number;
}

export interface HalfReport {
  readonly half: Half;
  readonly metrics: HalfMetrics;
  readonly misses: RealMiss[];
  /** Label problems: an entry that matches no URL, a hash mismatch, a pair that is not there. */
  readonly warnings: string[];
  /** `half/name` of every message scored (its bytes were found and matched the labels). */
  readonly scored: string[];
  readonly millis: number;
}

export const REAL_TARGETS = Object.freeze({ links: 0.95, pixels: 0.99, legitLost: 0.005, broken: 0, unsubscribeLost: 0 });

function emptyHalf(): HalfMetrics {
  return {
    messages: 0,
    missing: 0,
    links: 0,
    linksHandled: 0,
    pixels: 0,
    pixelsRemoved: 0,
    legit: 0,
    legitLost: 0,
    unsubscribe: 0,
    unsubscribeLost: 0,
    broken: 0,
    decodable: 0,
    unwrapped: 0,
    errors: 0,
  };
}

const CHANGING: ReadonlySet<string> = new Set(['unwrap-link', 'strip-params']);

function describe(findings: readonly Finding[]): string {
  if (!findings.length) return 'no finding';
  return findings.map((f) => `${f.action} ${f.ruleId}${f.replacement ? ` -> ${f.replacement.slice(0, 120)}` : ''}`).join('; ');
}

function paramTokens(url: string, params: readonly string[]): string[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const p of params) {
    for (const v of u.searchParams.getAll(p)) {
      if (v.length < 3) continue;
      out.push(`${p}=${v}`, `${p}=${encodeURIComponent(v)}`);
    }
  }
  return out;
}

const inHaystack = (h: Haystack, s: string): boolean => h.raw.includes(s) || h.decoded.includes(s);

export interface EvaluateHalfOptions {
  /**
   * Learn from the other recipient's copy first (labels' `pair`), as the relay learns from the
   * copies it sees, then filter: what campaign learning adds. Messages without a pair are filtered
   * alone either way.
   */
  readonly campaign?: boolean;
}

export async function evaluateHalf(half: Half, rules: RuleSet, dir = realDir(), opts: EvaluateHalfOptions = {}): Promise<HalfReport> {
  const started = performance.now();
  const m = emptyHalf();
  const misses: RealMiss[] = [];
  const warnings: string[] = [];
  const scored: string[] = [];
  const msgs = loadHalf(half, dir);
  const names = new Set(msgs.map((x) => x.labels.message));
  for (const msg of msgs) {
    if (msg.labels.pair && !names.has(msg.labels.pair)) warnings.push(`${half}/${msg.name}: pair ${msg.labels.pair} is not labelled in this half`);
    if (!msg.path) {
      m.missing++;
      continue;
    }
    if (msg.badHash) {
      warnings.push(`${half}/${msg.name}: bytes at ${msg.path} have SHA-256 ${msg.badHash}, labels say ${msg.labels.sha256}`);
      m.missing++;
      continue;
    }
    m.messages++;
    scored.push(`${half}/${msg.name}`);
    const raw = readFileSync(msg.path);
    const occ = await occurrences(raw);
    const urls = labelUrls(occ, msg.labels).filter((u) => u.label !== 'ignore');
    for (const e of msg.labels.urls) if (!occ.some((o) => entryMatches(e, o.url))) warnings.push(`${half}/${msg.name}: entry matches no URL: ${e.url ?? e.prefix ?? e.regex}`);
    const recipients = msg.labels.recipients ?? toAddresses(raw);
    let findings: Finding[] = [];
    let out: Haystack | null = null;
    const pair = opts.campaign && msg.labels.pair ? msgs.find((x) => x.labels.message === msg.labels.pair && x.path && !x.badHash) : undefined;
    const store = pair ? new SqliteCampaignStore(null) : null;
    try {
      const base: RewriteOptions = { consent: NO_CONSENT, rules, recipients, ...(store ? { campaign: { store, sender: '' } } : {}) };
      if (store && pair?.path) {
        const pairRaw = readFileSync(pair.path);
        await rewriteMessage(pairRaw, { ...base, recipients: pair.labels.recipients ?? toAddresses(pairRaw) });
      }
      const result = await rewriteMessage(raw, base);
      findings = result.findings;
      out = await haystackOf(result.output);
    } catch (err) {
      m.errors++;
      misses.push({ half, message: msg.name, kind: 'error', url: '', detail: err instanceof Error ? err.message : String(err) });
    } finally {
      await store?.close();
    }
    const miss = (kind: MissKind, url: string, detail: string): void => {
      misses.push({ half, message: msg.name, kind, url, detail });
    };
    for (const u of urls) {
      const fs = findings.filter((f) => f.url === u.url);
      const acted = fs.filter((f) => f.action !== 'keep');
      const present = out !== null && containsWhole(out, u.url);
      const badUnwrap = acted.find((f) => f.action === 'unwrap-link' && !(f.replacement && isHttp(f.replacement)));
      if (badUnwrap) {
        m.broken++;
        if (out) miss('broken', u.url, `unwrapped to something that is not an http(s) URL: ${describe(fs)}`);
      }
      switch (u.label) {
        case 'tracked-link':
        case 'recipient-param': {
          m.links++;
          let handled = !present;
          if (handled && u.label === 'recipient-param' && out) {
            const tokens = paramTokens(u.url, u.entry?.params ?? []);
            const strip = acted.find((f) => f.action === 'strip-params' || f.action === 'unwrap-link');
            handled = strip ? !tokens.some((t) => (strip.replacement ?? '').includes(t)) : acted.length > 0 || !tokens.some((t) => inHaystack(out!, t));
          }
          if (handled) m.linksHandled++;
          else if (out) miss(u.label, u.url, describe(fs));
          const dest = u.entry?.destination;
          if (u.label === 'tracked-link' && dest !== undefined) {
            m.decodable++;
            const unwrap = acted.find((f) => f.action === 'unwrap-link');
            if (unwrap?.replacement === dest) m.unwrapped++;
            else if (unwrap && !badUnwrap) {
              m.broken++;
              miss('broken', u.url, `unwrapped to ${unwrap.replacement ?? '(nothing)'}, destination is ${dest}`);
            }
          }
          break;
        }
        case 'pixel':
          m.pixels++;
          if (!present) m.pixelsRemoved++;
          else miss('pixel', u.url, describe(fs));
          break;
        case 'legit-link':
        case 'legit-image':
        case 'unsubscribe': {
          // changed (rewritten to another URL) is "broken"; gone without a rewrite is "lost";
          // an unsubscribe link must stay exactly as sent, so a changed one is lost as well
          const unsub = u.label === 'unsubscribe';
          const changed = badUnwrap ? undefined : acted.find((f) => CHANGING.has(f.action));
          if (unsub) m.unsubscribe++;
          else m.legit++;
          if (changed && out) {
            m.broken++;
            miss('broken', u.url, `a ${u.label} was rewritten: ${describe(fs)}`);
          }
          if (!present && (unsub || !changed)) {
            if (unsub) m.unsubscribeLost++;
            else m.legitLost++;
            if (out) miss(unsub ? 'unsubscribe-lost' : 'legit-lost', u.url, describe(fs));
          }
          break;
        }
        case 'ignore':
          break;
      }
    }
  }
  return { half, metrics: m, misses, warnings, scored, millis: Math.round(performance.now() - started) };
}

// ------------------------------------------------------------------ the ratchet

/**
 * Known misses, one line each. Development-half entries name the URL so they can be worked on;
 * held-out entries carry only a hash of message, kind and URL, so that the list does not become a
 * tuning aid for the half that must not be tuned on.
 */
const knownSchema = z.strictObject({
  dev: z.array(z.strictObject({ message: z.string(), kind: z.string(), url: z.string() })).default([]),
  heldout: z.array(z.strictObject({ message: z.string(), kind: z.string(), id: z.string().regex(/^[0-9a-f]{16}$/) })).default([]),
});
export type KnownMisses = z.infer<typeof knownSchema>;

export function knownMissesPath(dir = realDir()): string {
  return join(dir, 'known-misses.yaml');
}

export function missId(m: { message: string; kind: string; url: string }): string {
  return createHash('sha256').update(`${m.message}\0${m.kind}\0${m.url}`).digest('hex').slice(0, 16);
}

/** The ratchet's key of a miss: the same for a listed entry and for the miss it lists. */
export function missKey(half: Half, m: { message: string; kind: string; url?: string; id?: string }): string {
  return `${half}\0${m.message}\0${m.kind}\0${half === 'heldout' ? (m.id ?? missId({ message: m.message, kind: m.kind, url: m.url ?? '' })) : m.url}`;
}

export function readKnownMisses(path = knownMissesPath()): KnownMisses {
  if (!existsSync(path)) return { dev: [], heldout: [] };
  const parsed = knownSchema.safeParse(parseYaml(readFileSync(path, 'utf8')) ?? {});
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function knownFrom(misses: readonly RealMiss[]): KnownMisses {
  const sort = <T extends { message: string; kind: string }>(xs: T[], k: (x: T) => string): T[] =>
    xs.sort((a, b) => a.message.localeCompare(b.message) || a.kind.localeCompare(b.kind) || k(a).localeCompare(k(b)));
  const dev = sort(
    misses.filter((x) => x.half === 'dev').map((x) => ({ message: x.message, kind: x.kind, url: x.url })),
    (x) => x.url,
  );
  const heldout = sort(
    misses.filter((x) => x.half === 'heldout').map((x) => ({ message: x.message, kind: x.kind, id: missId(x) })),
    (x) => x.id,
  );
  return { dev: dedupe(dev, (x) => missKey('dev', x)), heldout: dedupe(heldout, (x) => missKey('heldout', x)) };
}

function dedupe<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const k = key(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function writeKnownMisses(known: KnownMisses, path = knownMissesPath()): void {
  const head = [
    '# Misses of the engine on fixtures/real/ that are known and accepted for now (the ratchet).',
    '# test/eval/real.test.ts fails on any miss not listed here. Regenerate after improving detection:',
    '#   npm run eval -- --update-known-misses',
    '# Held-out misses are listed by hash only: the held-out half is never a tuning aid.',
    '',
  ].join('\n');
  writeFileSync(path, head + stringifyYaml(known, { lineWidth: 0 }));
}

/**
 * Misses not in the list (new: the ratchet fails), and listed misses that no longer happen (the
 * list can shrink). Only messages that were scored on this machine (`half/name`) count as gone.
 */
export function compareToKnown(misses: readonly RealMiss[], known: KnownMisses, scored: ReadonlySet<string>): { fresh: RealMiss[]; gone: string[] } {
  const listed = new Set<string>([...known.dev.map((k) => missKey('dev', k)), ...known.heldout.map((k) => missKey('heldout', k))]);
  const now = new Set<string>(misses.map((x) => missKey(x.half, x)));
  const fresh = misses.filter((x) => !listed.has(missKey(x.half, x)));
  const gone = [
    ...known.dev.filter((k) => scored.has(`dev/${k.message}`)).map((k) => ({ k: missKey('dev', k), s: `dev ${k.message} ${k.kind} ${k.url}` })),
    ...known.heldout.filter((k) => scored.has(`heldout/${k.message}`)).map((k) => ({ k: missKey('heldout', k), s: `heldout ${k.message} ${k.kind} #${k.id}` })),
  ]
    .filter((x) => !now.has(x.k))
    .map((x) => x.s);
  return { fresh, gone };
}
