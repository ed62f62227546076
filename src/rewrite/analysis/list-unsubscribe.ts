/**
 * The List-Unsubscribe header (RFC 2369, RFC 8058) names the sender's own unsubscribe URLs. A link
 * in the body to the same URL is the unsubscribe link, whatever its wording or language, tracked
 * or not: it must keep working as written.
 */
import type { Analyser, Hint } from './types.js';
import type { Candidate } from '../detectors/types.js';

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
  return u.trim().replace(/&amp;/g, '&').replace(/^([a-z]+:\/\/[^/?#]+)/i, (h) => h.toLowerCase());
}

export const listUnsubscribeAnalyser: Analyser = {
  id: 'list-unsubscribe',
  analyse(view) {
    const out = new Map<Candidate, Hint>();
    const targets = new Set(listUnsubscribeUrls([...view.headers.get('list-unsubscribe'), ...view.headers.get('list-manage')]).map(norm));
    if (!targets.size) return out;
    for (const { candidate } of view.candidates) {
      if (candidate.kind === 'click' && targets.has(norm(candidate.url))) out.set(candidate, { protect: 'the List-Unsubscribe header names this URL' });
    }
    return out;
  },
};
