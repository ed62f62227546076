/**
 * One unsubscribe link, several copies: the HTML part says "Newsletter abbestellen" on it, the
 * plain-text part puts the same redirect URL after a sentence the wording check does not read,
 * and the HTML may add campaign parameters. When one copy is recognised as a link the recipient
 * needs (its wording, its URL, the List-Unsubscribe header), every link of the message with the
 * same tokenised address (host, path and bare query token; the rest of the query aside) is
 * protected too. Only addresses holding an opaque token are matched: a plain "/" or "/news"
 * shared with an unsubscribe URL says nothing.
 */
import type { Candidate } from '../detectors/types.js';
import { loadNeededLinks } from '../protect/needed-links.js';
import { neededLink } from './needed-links.js';
import { listUnsubscribeUrls } from './list-unsubscribe.js';
import type { Analyser, Hint, MessageView } from './types.js';
import { shapeOf, shapeOfCandidate, type UrlShape } from './url-shape.js';

function keyOf(shape: UrlShape): string | null {
  if (!shape.positions.some((p) => p.shape === 'opaque' && (p.key === '?' || p.key.startsWith('/')))) return null;
  const bare = shape.positions.find((p) => p.key === '?');
  return `${shape.url.hostname.toLowerCase()}${shape.url.pathname}${bare ? `?${bare.value}` : ''}`;
}

export const sameAddressAnalyser: Analyser = {
  id: 'same-address',
  analyse(view: MessageView) {
    const out = new Map<Candidate, Hint>();
    const needed = new Map<string, string>();
    for (const u of listUnsubscribeUrls([...view.headers.get('list-unsubscribe')])) {
      const shape = shapeOf(u);
      const key = shape && keyOf(shape);
      if (key) needed.set(key, 'the List-Unsubscribe header names the same address');
    }
    const links: { c: Candidate; key: string }[] = [];
    const table = loadNeededLinks();
    for (const { candidate: c, charset } of view.candidates) {
      if (c.kind !== 'click' || c.technique === 'a-ping') continue;
      const shape = shapeOfCandidate(c);
      const key = shape && keyOf(shape);
      if (!key) continue;
      links.push({ c, key });
      if (neededLink(c, view.ctx.rules, table, charset)) needed.set(key, 'another copy of this link is an unsubscribe, preferences or view-online link');
    }
    if (!needed.size) return out;
    for (const { c, key } of links) {
      const why = needed.get(key);
      if (why) out.set(c, { protect: why });
    }
    return out;
  },
};
