/**
 * Links the recipient needs (unsubscribe, preferences, view online, a mailing list's own pages,
 * sign-in and reset flows): the one place that recognises them, from the data table
 * needed-links.yaml (its top comment documents the format). A link recognised here is never
 * modified, tracked or not.
 *
 * Contract: `loadNeededLinks()` returns a compiled, frozen table or throws RULES_INVALID naming
 * the entry and key to fix; the shipped table is loaded once and cached.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { RelayError } from '../../errors.js';
import { packageRoot } from '../../paths.js';
import { parseYaml } from '../../yaml.js';
import { readArtefact } from '../rules/artefact.js';

const NEEDED_KINDS = ['unsubscribe', 'preferences', 'view-online', 'list-management', 'transactional'] as const;
type NeededKind = (typeof NEEDED_KINDS)[number];

/** The languages the phrase table must cover (issue 8); the loader refuses a table without one. */
export const REQUIRED_LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl', 'sv', 'da', 'no', 'fi', 'cs', 'ja', 'zh'] as const;

/** Scripts without spaces between words: phrases match as substrings. */
const UNSPACED_LANGUAGES = new Set(['ja', 'zh', 'ko', 'th']);

const phraseSchema = z.strictObject({
  text: z.string().min(2),
  lang: z.string().regex(/^[a-z]{2}$/, 'an ISO 639-1 code such as "de"'),
  kind: z.enum(NEEDED_KINDS),
  whole: z.boolean().optional(),
});
const pathSchema = z.strictObject({ word: z.string().min(5), kind: z.enum(NEEDED_KINDS) });
const urlSchema = z.strictObject({ pattern: z.string().min(1), kind: z.enum(NEEDED_KINDS) });
const paramSchema = z.string().regex(/^[a-z0-9_.-]+\*?$/, 'a lower-case parameter name, or a prefix ending in "*"');
const fileSchema = z.strictObject({
  phrases: z.array(phraseSchema).min(1),
  paths: z.array(pathSchema),
  urls: z.array(urlSchema),
  labelParams: z.array(paramSchema).optional(),
  pointers: z.array(z.strictObject({ text: z.string().min(1), lang: z.string().regex(/^[a-z]{2}$/, 'an ISO 639-1 code such as "de"') })).optional(),
});

type NeededPhrase = z.infer<typeof phraseSchema>;

/** Why a link is needed: its kind and what showed it (for the finding's note and the audit). */
export interface Needed {
  readonly kind: NeededKind;
  /** e.g. 'link text "Se désabonner" (fr)', 'URL word "abmeld"', 'URL shape (mailing-list archive)'. */
  readonly evidence: string;
}

export interface NeededLinks {
  readonly phrases: readonly NeededPhrase[];
  /** What the visible link text says, if it names a needed link. */
  byText(text: string): Needed | null;
  /**
   * What the URL says about the page it opens: words in its host labels and path segments, and in
   * query items that read as page names (`?p=unsubscribe`, `?unsubscribe=digest`); list and
   * archive shapes. Never what a query carries: campaign labels (`utm_campaign=preferences-week`),
   * tokens, addresses, or another URL or path (a redirect's destination is read as a URL of its own
   * by the caller, see analysis/needed-links.ts).
   */
  byUrl(url: string): Needed | null;
  /**
   * Whether a link text says nothing by itself but points at the sentence around it ("hier",
   * "click here", "cliquez ici"); an empty or punctuation-only text counts too.
   */
  pointsAway(text: string): boolean;
}

/**
 * Case, diacritics and punctuation folded away, so that "Se Désabonner", "se desabonner" and
 * "SE-DÉSABONNER!" read the same. Letters NFKD does not decompose are mapped by hand.
 */
export function foldText(s: string): string {
  return foldLetters(s)
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** Lower case without diacritics; the letters NFKD leaves whole (ł, ø, æ, œ, ß, đ, ı, þ) spelled out. */
function foldLetters(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[łŀ]/g, 'l')
    .replace(/ø/g, 'o')
    .replace(/æ/g, 'ae')
    .replace(/œ/g, 'oe')
    .replace(/ß/g, 'ss')
    .replace(/[đð]/g, 'd')
    .replace(/ı/g, 'i')
    .replace(/þ/g, 'th');
}

/** A URL read as words: lower case, percent-decoded, diacritics folded, separators as "-". */
function foldUrl(url: string): string {
  let s = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '/');
  for (let i = 0; i < 3 && /%[0-9a-f]{2}/i.test(s); i++) {
    try {
      s = decodeURIComponent(s);
    } catch {
      break;
    }
  }
  return foldLetters(s).replace(/[-_.+\s]+/g, '-');
}

/**
 * The part of a URL that names the page it opens, for the word and shape tests: scheme, host and
 * path as written, the query items that may name a page (no campaign label, no URL, path,
 * address or token), and a fragment route. Null when the URL is not a URL with a host (mailto:
 * and the like are read whole).
 */
function pageOf(raw: string, isLabel: (name: string) => boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  if (!url.host) return null;
  const kept: string[] = [];
  for (const item of url.search.slice(1).split('&')) {
    if (!item) continue;
    const eq = item.indexOf('=');
    const name = decodeQuery(eq < 0 ? item : item.slice(0, eq));
    const value = eq < 0 ? '' : decodeQuery(item.slice(eq + 1));
    if (isLabel(name.toLowerCase()) || !namesAPage(name) || (value && !namesAPage(value))) continue;
    kept.push(item);
  }
  return `${url.protocol}//${url.host}${url.pathname}${kept.length ? `?${kept.join('&')}` : ''}${/^#!?\//.test(url.hash) ? url.hash : ''}`;
}

function decodeQuery(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * A query name or value that can name a page: short, no URL, path or address, and no token
 * (a long run mixing letters and digits, which is how ids and signatures look).
 */
function namesAPage(v: string): boolean {
  if (v.length > 64 || /[/:@\\]/.test(v)) return false;
  return !v.split(/[^\p{L}\p{N}]+/u).some((piece) => piece.length >= 10 && /\p{L}/u.test(piece) && /\p{N}/u.test(piece));
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface CompiledPhrase {
  readonly re: RegExp;
  readonly phrase: NeededPhrase;
}

function compilePhrase(p: NeededPhrase): CompiledPhrase {
  const lead = p.text.startsWith('*');
  const trail = p.text.endsWith('*');
  const body = foldText(p.text.replace(/^\*|\*$/g, ''));
  if (!body) throw new Error(`phrase "${p.text}" is empty once folded`);
  if (UNSPACED_LANGUAGES.has(p.lang)) return { re: new RegExp(escapeRegExp(body.replace(/ /g, ''))), phrase: p };
  const words = escapeRegExp(body);
  const source = p.whole ? `^${words}$` : `(?:^| )${lead ? '\\S*' : ''}${words}${trail ? '\\S*' : ''}(?= |$)`;
  return { re: new RegExp(source), phrase: p };
}

export type NeededLinksData = z.infer<typeof fileSchema>;

/** The YAML parsed and checked against the schema: what the build writes into the artefact. */
export function validateNeededLinks(text: string, file = 'needed-links.yaml'): NeededLinksData {
  const parsed = fileSchema.safeParse(parseYaml(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

export function compileNeededLinks(text: string, file = 'needed-links.yaml'): NeededLinks {
  return compileNeededData(validateNeededLinks(text, file), file);
}

/** Validated table data → the compiled matcher; the language and regex checks run here, on either path. */
export function compileNeededData(data: NeededLinksData, file = 'needed-links.yaml'): NeededLinks {
  const langs = new Set(data.phrases.map((p) => p.lang));
  const missing = REQUIRED_LANGUAGES.filter((l) => !langs.has(l));
  if (missing.length) throw new Error(`${file}: phrases: no phrase for ${missing.join(', ')}`);
  const phrases = data.phrases.map((p, i) => {
    try {
      return compilePhrase(p);
    } catch (err) {
      throw new Error(`${file}: phrases.${i}: ${(err as Error).message}`);
    }
  });
  const spaced = phrases.filter((p) => !UNSPACED_LANGUAGES.has(p.phrase.lang));
  const unspaced = phrases.filter((p) => UNSPACED_LANGUAGES.has(p.phrase.lang));
  const words = data.paths.map((w) => {
    const atStart = w.word.startsWith('/');
    const body = foldUrl(w.word.replace(/^\//, ''));
    return { re: new RegExp(`${atStart ? '(?:^|[/?=&#-])' : ''}${escapeRegExp(body)}`), word: w };
  });
  const labelNames = new Set((data.labelParams ?? []).filter((p) => !p.endsWith('*')));
  const labelPrefixes = (data.labelParams ?? []).filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  const isLabel = (name: string): boolean => labelNames.has(name) || labelPrefixes.some((p) => name.startsWith(p));
  const urls = data.urls.map((u, i) => {
    try {
      return { re: new RegExp(u.pattern, 'i'), url: u };
    } catch (err) {
      throw new Error(`${file}: urls.${i}.pattern: ${(err as Error).message}`);
    }
  });

  const byText = (raw: string): Needed | null => {
    const folded = foldText(raw);
    if (!folded) return null;
    for (const p of spaced) if (p.re.test(folded)) return { kind: p.phrase.kind, evidence: `link text "${p.phrase.text.replace(/\*/g, '')}" (${p.phrase.lang})` };
    if (/[^\x00-\x7f]/.test(folded)) {
      const joined = folded.replace(/ /g, '');
      for (const p of unspaced) if (p.re.test(joined)) return { kind: p.phrase.kind, evidence: `link text "${p.phrase.text}" (${p.phrase.lang})` };
    }
    return null;
  };
  const byUrl = (url: string): Needed | null => {
    const page = pageOf(url, isLabel) ?? url;
    for (const u of urls) if (u.re.test(page)) return { kind: u.url.kind, evidence: `URL shape (${u.url.kind})` };
    const folded = foldUrl(page);
    for (const w of words) if (w.re.test(folded)) return { kind: w.word.kind, evidence: `URL word "${w.word.word.replace(/^\//, '')}"` };
    return null;
  };
  // Every analyser asks about the same links, and a campaign's copies repeat them: each distinct
  // text and URL is folded and tried against the ~600 patterns once (the profile had this at 40 %
  // of the engine's time). Bounded: a full cache starts over rather than grow with hostile input.
  const pointers = new Set((data.pointers ?? []).map((p) => foldText(p.text)));
  const pointersJoined = new Set([...pointers].map((p) => p.replace(/ /g, '')));
  const pointsAway = (raw: string): boolean => {
    const folded = foldText(raw);
    return !folded || pointers.has(folded) || pointersJoined.has(folded.replace(/ /g, ''));
  };
  return Object.freeze({ phrases: Object.freeze(data.phrases), pointsAway, byText: memo(byText), byUrl: memo(byUrl) });
}

const MEMO_MAX = 8192;

function memo(fn: (s: string) => Needed | null): (s: string) => Needed | null {
  const cache = new Map<string, Needed | null>();
  return (s) => {
    const hit = cache.get(s);
    if (hit !== undefined) return hit;
    const v = fn(s);
    if (cache.size >= MEMO_MAX) cache.clear();
    cache.set(s, v === null ? null : Object.freeze(v));
    return v === null ? null : cache.get(s)!;
  };
}

export function neededLinksPath(): string {
  return join(packageRoot(), 'src', 'rewrite', 'protect', 'needed-links.yaml');
}

let shipped: NeededLinks | null = null;

/** The shipped table, compiled once. A broken table stops the relay (RULES_INVALID), never half-applies. */
export function loadNeededLinks(): NeededLinks {
  if (shipped) return shipped;
  const file = neededLinksPath();
  try {
    const text = readFileSync(file, 'utf8');
    // the build's compiled copy of this very text (same SHA-256) spares the YAML parse and the schema
    const compiled = readArtefact<NeededLinksData>('needed-links', text);
    shipped = compiled ? compileNeededData(compiled, file) : compileNeededLinks(text, file);
  } catch (err) {
    throw new RelayError('RULES_INVALID', `needed-link table ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return shipped;
}
