/**
 * The List-Unsubscribe header (RFC 2369, RFC 8058) names the sender's own unsubscribe URLs. A link
 * in the body to the same URL is the unsubscribe link, whatever its wording or language, tracked
 * or not: it must keep working as written.
 */
import type { Analyser, Hint } from './types.js';
import type { Candidate } from '../detectors/types.js';
import { httpUrl } from '../links.js';

/** URLs inside <...> of List-Unsubscribe / List-Unsubscribe-Post style headers. */
export function listUnsubscribeUrls(values: readonly string[]): string[] {
  const urls: string[] = [];
  for (const v of values) {
    for (const m of v.replace(/\r?\n[ \t]+/g, ' ').matchAll(/<\s*([^<>]+?)\s*>/g)) {
      const u = m[1]!.trim();
      if (/^https?:/i.test(u)) urls.push(u);
    }
  }
  return urls;
}

/** Compare URLs without the parts clients normalise (scheme and host case, trailing "&amp;"). */
function norm(u: string): string {
  return u
    .trim()
    .replace(/&amp;/g, '&')
    .replace(/^([a-z]+:\/\/[^/?#]+)/i, (h) => h.toLowerCase());
}

/** Scheme, host and path without query or fragment: the unsubscribe endpoint itself. */
function endpoint(u: string): string | null {
  const url = httpUrl(norm(u));
  return url ? `${url.host}${url.pathname.replace(/\/+$/, '')}` : null;
}

/**
 * Body links to the header's URL are protected; so are links to the same endpoint with another
 * query (the body link often adds or drops a parameter), unless that endpoint is a redirector:
 * a vendor click rule knows it, or the body sends more than a couple of distinct URLs through it.
 */
export const listUnsubscribeAnalyser: Analyser = {
  id: 'list-unsubscribe',
  analyse(view) {
    const out = new Map<Candidate, Hint>();
    const headerUrls = listUnsubscribeUrls([...view.headers.get('list-unsubscribe'), ...view.headers.get('list-manage')]);
    if (!headerUrls.length) return out;
    const targets = new Set(headerUrls.map(norm));
    const endpoints = new Set<string>();
    for (const u of headerUrls) {
      const url = httpUrl(u);
      const e = endpoint(u);
      if (url && e && !view.ctx.rules.matchUrl(url, 'click')) endpoints.add(e);
    }
    const variants = new Map<string, Set<string>>();
    for (const { candidate } of view.candidates) {
      const e = candidate.kind === 'click' ? endpoint(candidate.url) : null;
      if (e && endpoints.has(e)) variants.set(e, (variants.get(e) ?? new Set()).add(norm(candidate.url)));
    }
    for (const { candidate } of view.candidates) {
      if (candidate.kind !== 'click') continue;
      if (targets.has(norm(candidate.url))) {
        out.set(candidate, { protect: 'the List-Unsubscribe header names this URL' });
        continue;
      }
      const e = endpoint(candidate.url);
      if (e && endpoints.has(e) && (variants.get(e)?.size ?? 0) <= 2) out.set(candidate, { protect: 'the List-Unsubscribe header names this endpoint' });
    }
    return out;
  },
};
