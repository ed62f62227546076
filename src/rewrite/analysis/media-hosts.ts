/**
 * Audio and video are fetched when the mail is opened (a poster at once, a source as soon as the
 * client prepares the player), so a media load is an open beacon unless it comes from where the
 * mail's content comes from: the sender's own site (From, Sender, Reply-To), or a site that also
 * serves the message's visible pictures. A video on a host that serves nothing else in the mail
 * and is not the sender's is reported as a beacon; no vendor list is needed to see it.
 * (iframes, objects, embeds and scripts are beacons whatever the host: detectors/html.ts.)
 */
import type { Candidate } from '../detectors/types.js';
import { httpUrl } from '../links.js';
import type { Analyser, Hint, MessageView } from './types.js';
import { siteOf } from './url-shape.js';

const MEDIA: ReadonlySet<string> = new Set(['media', 'media-poster']);
const PICTURE: ReadonlySet<string> = new Set(['img', 'srcset', 'background-attr', 'css-url', 'vml', 'input-image']);
const SENDER_FIELDS = ['from', 'sender', 'reply-to'] as const;

export const mediaHostAnalyser: Analyser = {
  id: 'media-hosts',
  analyse(view: MessageView) {
    const out = new Map<Candidate, Hint>();
    const media = view.candidates.filter(({ candidate: c }) => c.kind === 'open' && MEDIA.has(c.technique));
    if (!media.length) return out;
    const content = new Set<string>();
    for (const field of SENDER_FIELDS) {
      for (const value of view.headers.get(field)) for (const m of value.matchAll(/@([a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)/gi)) content.add(siteOf(m[1]!));
    }
    for (const { candidate: c } of view.candidates) {
      if (c.kind !== 'open' || !PICTURE.has(c.technique) || c.tiny || c.hidden) continue;
      const u = httpUrl(c.url);
      if (u) content.add(siteOf(u.hostname));
    }
    for (const { candidate: c } of media) {
      const u = httpUrl(c.url);
      if (!u || content.has(siteOf(u.hostname))) continue;
      out.set(c, {
        verdict: {
          ruleId: 'heuristic.media-unknown-host',
          vendor: null,
          technique: c.technique,
          note: "audio or video loaded on open from a site that is not the sender's and serves no picture of this mail",
        },
      });
    }
    return out;
  },
};
