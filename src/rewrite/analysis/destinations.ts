/**
 * Single links that give themselves away, even when no other link of the message shares their
 * template:
 *
 *  - a destination recoverable offline (a query value, a URL in the path, percent-encoded or
 *    base64/base64url) on another host, from a URL that reads as a redirect (redirect words in the
 *    path, a mail-system host label, or an opaque token beside the destination). The link is
 *    unwrapped to that destination, checked to be an http(s) URL. Share buttons and sign-in
 *    redirects carry a URL on purpose and are left alone (see carriedDestination).
 *  - link text naming another site than the href, on an href with an opaque token: the reader
 *    expects the named site and the href goes somewhere else first. When the text is itself a
 *    complete URL the link goes there directly; otherwise it is neutralised.
 */
import type { Candidate } from '../detectors/types.js';
import { httpUrl, stripParams } from '../links.js';
import { loadNeededLinks } from '../protect/needed-links.js';
import { neededLink } from './needed-links.js';
import type { Analyser, Hint, MessageView } from './types.js';
import { carriedDestination, sameSite, shapeOfCandidate, sitesInText, urlOfText } from './url-shape.js';

const REDIRECT_PATH = /\/(go|goto|click|clicks|c|cl|l|ls|link|links|r|redir|redirect|rd|tr|track|tracking|trk|t|ss|out|outbound|url|lt\.php|c\.php|r\.php|click\.php|redirect\.php)(?=[/?]|$)/i;
const MAIL_HOST = /^(news|newsletter|nl|link|links|lnk|click|clicks|clk|r|t|e|em|email|mail|mailing|go|trk|track|tracking|epost|url\d*|email\d*|mkt|edm|ml|ct|cl|tr)\./i;

export const destinationAnalyser: Analyser = {
  id: 'destinations',
  analyse(view: MessageView) {
    const out = new Map<Candidate, Hint>();
    const { ctx } = view;
    const table = loadNeededLinks();
    for (const { candidate: c, charset } of view.candidates) {
      if (c.kind !== 'click' || c.technique === 'a-ping') continue;
      const text = c.linkText ?? '';
      const shape = shapeOfCandidate(c);
      if (!shape || ctx.rules.matchUrl(shape.url, 'click') || neededLink(c, ctx.rules, table, charset)) continue;
      const opaque = shape.positions.some((p) => p.shape === 'opaque');
      const dest = carriedDestination(shape.url);
      if (dest) {
        const evidence = [
          REDIRECT_PATH.test(shape.url.pathname) ? 'redirect path' : '',
          MAIL_HOST.test(shape.url.hostname) && shape.url.hostname.split('.').length > 2 ? 'mail-system host' : '',
          opaque ? 'opaque token beside it' : '',
        ].filter(Boolean);
        if (evidence.length) {
          const cleaned = table.byUrl(dest) ? dest : stripParams(dest, ctx.rules, ctx.needles, ctx.policy.keepCampaignParams).url;
          out.set(c, {
            verdict: {
              ruleId: 'heuristic.carried-destination',
              vendor: null,
              technique: c.technique,
              destination: cleaned,
              note: `redirect carrying its destination, unwrapped offline (${evidence.join(', ')})`,
            },
          });
          continue;
        }
      }
      if (!opaque || c.technique === 'text-link') continue;
      const named = sitesInText(text).find((h) => !sameSite(h, shape.url.hostname));
      if (!named) continue;
      const textUrl = urlOfText(text);
      const target = textUrl && httpUrl(textUrl) && !ctx.rules.matchUrl(httpUrl(textUrl)!, 'click') ? stripParams(textUrl, ctx.rules, ctx.needles, ctx.policy.keepCampaignParams).url : null;
      out.set(c, {
        verdict: {
          ruleId: 'heuristic.text-names-other-site',
          vendor: null,
          technique: c.technique,
          destination: target,
          note: target ? 'link text is a URL on another site than the opaque href: the link goes there directly' : 'link text names another site than the opaque href: opaque redirect',
        },
      });
    }
    return out;
  },
};
