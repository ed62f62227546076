/**
 * The one gate every decoded destination passes: an absolute http(s) URL, parsed by WHATWG
 * `URL` and returned as its normalised href. Anything else (javascript:, data:, relative paths,
 * binary junk that happens to start with "http") is null.
 */

/**
 * No decoder looks at more than this many characters of one token. Real click-tracking tokens
 * are a few hundred characters (SparkPost refuses links over 4 KiB); the cap keeps a hostile
 * 10 MB attribute from costing more than a bounded amount of work.
 */
export const MAX_TOKEN_CHARS = 32 * 1024;

// Control characters and U+FFFD mean the text came from bytes that were never a URL.
const NOT_URL_TEXT = /[\u0000-\u001f\u007f\ufffd]/;
const HTTP_PREFIX = /^https?:\/\//i;
const ENCODED_HTTP_PREFIX = /^https?%(?:25)*3A/i;
// A bare host such as "www.example.com/x": only used where the vendor is known to drop the scheme.
const HOST_LIKE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}\.?(?::\d{1,5})?(?:[/?#]|$)/i;

export interface HttpUrlOptions {
  /** How many extra levels of percent-encoding to peel ("https%3A%2F%2F..."). Default 0. */
  readonly percentLevels?: number;
  /** Accept "www.example.com/x" and "//example.com/x" as https. Default false. */
  readonly schemeless?: boolean;
}

export function toHttpUrl(raw: string, options: HttpUrlOptions = {}): string | null {
  if (raw.length > MAX_TOKEN_CHARS) return null;
  let s = raw.trim();
  const levels = options.percentLevels ?? 0;
  for (let level = 0; ; level++) {
    const direct = parseHttp(s, options.schemeless === true);
    if (direct !== null) return direct;
    if (level >= levels || !ENCODED_HTTP_PREFIX.test(s)) return null;
    const peeled = percentDecode(s);
    if (peeled === null) return null;
    s = peeled.trim();
  }
}

function parseHttp(s: string, schemeless: boolean): string | null {
  if (s === '' || NOT_URL_TEXT.test(s)) return null;
  let candidate: string;
  if (HTTP_PREFIX.test(s)) candidate = s;
  else if (schemeless && s.startsWith('//')) candidate = `https:${s}`;
  else if (schemeless && HOST_LIKE.test(s)) candidate = `https://${s}`;
  else return null;
  let u: URL;
  try {
    u = new URL(candidate);
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') return null;
  return u.href;
}

/** decodeURIComponent without the throw. */
export function percentDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** Values of query parameter `name`: exact-case matches first, then case-insensitive ones. */
export function queryValues(url: URL, name: string): string[] {
  const exact: string[] = [];
  const loose: string[] = [];
  const lower = name.toLowerCase();
  for (const [k, v] of url.searchParams) {
    if (k === name) exact.push(v);
    else if (k.toLowerCase() === lower) loose.push(v);
  }
  return [...exact, ...loose];
}

/** Non-empty path segments, still percent-encoded (an encoded "/" must not split a segment). */
export function rawSegments(url: URL): string[] {
  return url.pathname.split('/').filter((s) => s !== '');
}

/** The raw segment that follows the first run of segments equal (case-insensitively) to `marker`. */
export function segmentAfter(url: URL, marker: readonly string[]): string | null {
  const segs = rawSegments(url);
  const want = marker.map((m) => m.toLowerCase());
  for (let i = 0; i + want.length < segs.length; i++) {
    if (want.every((m, j) => segs[i + j]?.toLowerCase() === m)) return segs[i + want.length] ?? null;
  }
  return null;
}

// Only the entities a mail gateway is seen to leave in a wrapped URL; a full table is not needed.
const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };

/** Undo the HTML escaping some gateways apply to the URL before wrapping it. */
export function unescapeHtml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#39);/gi, (m, name: string) => ENTITIES[name.toLowerCase()] ?? m);
}
