import type { UnwrapSpec } from '../rules/types.js';
import { intArg, stringArg } from './args.js';
import { percentDecode, queryValues, rawSegments } from './text.js';

/**
 * Where a token-carrying decoder (base64, base64-zlib, base64-json) looks, from its arguments:
 * `param` (a query parameter), or `segment` (0-based index into the non-empty path segments,
 * negative counts from the end). With neither, every query value and then every path segment is
 * a candidate, in order.
 */
export function locateTokens(url: URL, spec: UnwrapSpec): string[] {
  const param = stringArg(spec, 'param');
  const segment = intArg(spec, 'segment');
  const segs = rawSegments(url).map((s) => percentDecode(s) ?? s);
  if (param !== undefined) return queryValues(url, param);
  if (segment !== undefined) {
    const s = segs.at(segment);
    return s === undefined ? [] : [s];
  }
  return [...url.searchParams.values(), ...segs];
}

/** The first non-null result of `decode` over `tokens`. */
export function firstDecoded(tokens: readonly string[], decode: (token: string) => string | null): string | null {
  for (const t of tokens) {
    const d = decode(t);
    if (d !== null) return d;
  }
  return null;
}
