/**
 * Per-recipient (or per-send) ids in direct links. An opaque value that recurs, identically, in
 * links to different destinations of one message is not about any one destination: it is about
 * the person or the send (`?token=<user id>` on the article link and on the shop link, the same
 * hash in `utm_content` everywhere). Such a query parameter is stripped from every link that
 * carries it; the rest of the link stays as written. A value seen in only one destination (a
 * document id, an archived message's id, a product variant) is left alone, and so are the
 * campaign parameters every recipient gets (utm_campaign, utm_source, utm_medium).
 */
import type { Candidate } from '../detectors/types.js';
import { campaignValueIdentifies, stripParams } from '../links.js';
import { loadNeededLinks } from '../protect/needed-links.js';
import { neededLink } from './needed-links.js';
import type { Analyser, Hint, MessageView } from './types.js';
import { shapeOfCandidate, type UrlShape } from './url-shape.js';

/** Parameters that name the campaign, the same for every recipient; kept whatever their value looks like. */
const CAMPAIGN_LEVEL = /^(utm_campaign|utm_source|utm_medium|utm_id|utm_source_platform|pk_campaign|pk_source|pk_medium|pk_kwd|mtm_campaign|mtm_source|mtm_medium|mtm_kwd|campaign|campaign_id|cid)$/i;
/** A number this long in a query value can be an account or user id; shorter ones are ids of things. */
const MIN_ID_DIGITS = 8;

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Where a value may carry a person: opaque query values, long numbers, and (as evidence only) opaque path segments. */
function tokensOf(shape: UrlShape): { key: string; value: string; param: string | null }[] {
  const out: { key: string; value: string; param: string | null }[] = [];
  for (const p of shape.positions) {
    const isQuery = p.key.startsWith('?') && p.key.length > 1;
    const ok = p.shape === 'opaque' || (isQuery && p.shape === 'number' && p.value.length >= MIN_ID_DIGITS);
    if (!ok) continue;
    out.push({ key: p.key, value: safeDecode(p.value), param: isQuery ? p.key.slice(1) : null });
  }
  return out;
}

export const sharedTokenAnalyser: Analyser = {
  id: 'shared-tokens',
  analyse(view: MessageView) {
    const out = new Map<Candidate, Hint>();
    const links: { c: Candidate; shape: UrlShape; protectedLink: boolean }[] = [];
    // value -> the distinct destinations (host + path) it occurs in
    const seen = new Map<string, { destinations: Set<string> }>();
    const table = loadNeededLinks();
    for (const { candidate: c, charset } of view.candidates) {
      if (c.kind !== 'click' || c.technique === 'a-ping') continue;
      const shape = shapeOfCandidate(c);
      if (!shape) continue;
      const protectedLink = neededLink(c, view.ctx.rules, table, charset) !== null;
      links.push({ c, shape, protectedLink });
      // a vendor's links and the unsubscribe link carry account and list ids beside the
      // recipient's (Mailchimp's u= and id=): they are not evidence of a per-recipient value
      if (protectedLink || view.ctx.rules.matchUrl(shape.url, 'click')) continue;
      const dest = `${shape.url.hostname.toLowerCase()}${shape.url.pathname}`;
      for (const t of tokensOf(shape)) {
        // the value's own path segment is not part of "where it goes"
        const where = t.param === null ? dest.replace(t.value, '') : dest;
        let e = seen.get(t.value);
        if (!e) {
          e = { destinations: new Set() };
          seen.set(t.value, e);
        }
        if (e.destinations.size < 4) e.destinations.add(where);
      }
    }
    for (const { c, shape, protectedLink } of links) {
      if (protectedLink || view.ctx.rules.matchUrl(shape.url, 'click')) continue;
      // a link with a token in its path is a redirect itself: stripping its query may break it
      // (the redirector analysis decides about it)
      if (shape.positions.some((p) => p.shape === 'opaque' && !p.key.startsWith('?'))) continue;
      const strip = new Set<string>();
      let because = '';
      for (const t of tokensOf(shape)) {
        if (t.param === null || CAMPAIGN_LEVEL.test(t.param)) continue;
        // a campaign parameter whose value names the campaign ("NewsletterV2-23_01_18-DE") is the same for everyone
        if (view.ctx.rules.matchParam(t.param, shape.url.hostname)?.campaign && !campaignValueIdentifies(t.value)) continue;
        const e = seen.get(t.value);
        if (!e || e.destinations.size < 2) continue;
        strip.add(t.param);
        because ||= `the same opaque value of ${t.param} occurs in links to ${e.destinations.size >= 4 ? '4 or more' : e.destinations.size} different destinations`;
      }
      if (!strip.size) continue;
      // the single-URL heuristics' removals (recipient address, id-named parameters) go as well
      const base = stripParams(c.url, view.ctx.rules, view.ctx.needles, view.ctx.policy.keepCampaignParams);
      // a vendor's parameter rule already names them: the exact layer decides, with its own rule id
      if ([...strip].every((p) => base.removed.includes(p))) continue;
      const cleaned = removeParams(base.url, strip);
      if (cleaned === c.url) continue;
      out.set(c, {
        verdict: {
          ruleId: 'heuristic.shared-token',
          vendor: null,
          technique: c.technique === 'text-link' ? 'text-param' : 'tracking-param',
          cleaned,
          params: [...new Set([...base.removed, ...strip])],
          note: `per-recipient id: ${because}`,
        },
      });
    }
    return out;
  },
};

/** The URL string without the named query parameters; everything else keeps its exact spelling. */
function removeParams(raw: string, names: ReadonlySet<string>): string {
  const hashAt = raw.indexOf('#');
  const beforeHash = hashAt < 0 ? raw : raw.slice(0, hashAt);
  const fragment = hashAt < 0 ? '' : raw.slice(hashAt);
  const q = beforeHash.indexOf('?');
  if (q < 0) return raw;
  const kept = beforeHash
    .slice(q + 1)
    .split('&')
    .filter((seg) => {
      const eq = seg.indexOf('=');
      return !(eq >= 0 && names.has(safeDecode(seg.slice(0, eq))));
    });
  return beforeHash.slice(0, q) + (kept.length ? `?${kept.join('&')}` : '') + fragment;
}
