/**
 * Decides whether a candidate is a tracker, and which rule says so. Vendor rules (data) first,
 * then technique rules (elements no legitimate mail needs), then generic heuristics. Pure.
 */
import type { RuleMatch, Technique } from './types.js';
import type { Candidate, ClassifyContext } from './detectors/types.js';
import { containsRecipient } from './recipient.js';
import { httpUrl, isProtectedLink, resolveDestination, stripParams } from './links.js';

export interface Verdict extends RuleMatch {
  readonly technique: Technique;
  /** Click side: recovered destination (params already stripped), or null when opaque. */
  readonly destination?: string | null;
  /** Click side, ordinary link: the URL without per-recipient parameters. */
  readonly cleaned?: string;
  readonly params?: readonly string[];
  /** A tracked link that must keep working (unsubscribe): kept, and said so. */
  readonly protectedLink?: boolean;
  readonly note?: string;
}

// Path shapes of open beacons. Only applied to remote loads, never to links (parcel tracking!).
const BEACON_PATH = /\/(open|opened|opens|track|tracker|tracking|trace|trk|pixel|beacon|impression|imp|openrate)(?=[/._?=&]|$)|[?&](?:[a-z_]*=)?open(?=&|$)|\/(1x1|t|o|p|px|pixel|open|beacon|blank|spacer)\.(gif|png|jpg|php|aspx?)(?=\?.|$)/i;
const SPACER_NAME = /\/(spacer|blank|transparent|clear|pixel_transparent|s)\.gif$/i;

export function classify(c: Candidate, ctx: ClassifyContext): Verdict | null {
  return c.kind === 'open' ? classifyOpen(c, ctx) : classifyClick(c, ctx, c.linkText ?? '');
}

function classifyOpen(c: Candidate, ctx: ClassifyContext): Verdict | null {
  const url = httpUrl(c.url);
  if (!url) {
    // iframe src=data:..., object data=cid:...: the element itself is the risk
    if (c.alwaysTracking && !/^(#|about:blank$|javascript:void)/i.test(c.url.trim())) return { ruleId: `technique.${c.technique}`, vendor: null, technique: c.technique };
    return null;
  }
  const vendor = ctx.rules.matchUrl(url, 'open') ?? ctx.rules.matchUrl(url, 'click');
  if (vendor) return { ruleId: vendor.ruleId, vendor: vendor.vendor, technique: c.technique };
  if (c.alwaysTracking) return { ruleId: `technique.${c.technique}`, vendor: null, technique: c.technique };
  if (c.printOnly) return { ruleId: 'heuristic.print-beacon', vendor: null, technique: c.technique };
  if (c.quotedOnly) return { ruleId: 'heuristic.forward-beacon', vendor: null, technique: c.technique };
  const path = url.pathname + url.search;
  const imageLike = c.technique === 'img' || c.technique === 'input-image' || c.technique === 'srcset' || c.technique === 'amp' || c.technique === 'vml' || c.technique === 'svg-image';
  const spacer = SPACER_NAME.test(url.pathname) && !url.search;
  if (imageLike && c.hidden && !spacer) return { ruleId: 'heuristic.hidden-image', vendor: null, technique: c.technique };
  if (imageLike && c.tiny && !spacer) return { ruleId: 'heuristic.tiny-image', vendor: null, technique: c.technique };
  if (containsRecipient(c.url, ctx.needles)) return { ruleId: 'heuristic.recipient-id', vendor: null, technique: c.technique };
  if (!spacer && BEACON_PATH.test(path)) return { ruleId: 'heuristic.beacon-path', vendor: null, technique: c.technique };
  if (url.search && stripParams(url.href, ctx.rules, ctx.needles).removed.length) return { ruleId: 'heuristic.recipient-param', vendor: null, technique: c.technique };
  return null;
}

function classifyClick(c: Candidate, ctx: ClassifyContext, linkText: string): Verdict | null {
  if (c.technique === 'a-ping') return { ruleId: 'technique.a-ping', vendor: null, technique: 'a-ping' };
  const url = httpUrl(c.url);
  if (!url) return null;
  const match = ctx.rules.matchUrl(url, 'click');
  if (match) {
    const dest = resolveDestination(url, ctx.rules);
    if (dest) {
      const cleaned = isProtectedLink(dest, linkText) ? dest : stripParams(dest, ctx.rules, ctx.needles, ctx.policy.keepCampaignParams).url;
      return { ruleId: match.ruleId, vendor: match.vendor, technique: c.technique, destination: cleaned };
    }
    if (isProtectedLink(c.url, linkText)) {
      return { ruleId: match.ruleId, vendor: match.vendor, technique: c.technique, destination: null, protectedLink: true, note: 'opaque tracked unsubscribe/preferences link kept so that it keeps working' };
    }
    return { ruleId: match.ruleId, vendor: match.vendor, technique: c.technique, destination: null, note: 'opaque redirect: the destination is only in the vendor database' };
  }
  if (isProtectedLink(c.url, linkText)) return null;
  const stripped = stripParams(c.url, ctx.rules, ctx.needles, ctx.policy.keepCampaignParams);
  if (!stripped.removed.length) {
    // an unknown redirector that carries the recipient in its path: the link itself identifies them
    if (containsRecipient(url.pathname, ctx.needles)) {
      return { ruleId: 'heuristic.recipient-id', vendor: null, technique: c.technique, destination: null, note: 'link path carries the recipient address: opaque per-recipient link' };
    }
    return null;
  }
  return {
    ruleId: stripped.ruleId ?? 'heuristic.id-param',
    vendor: stripped.vendor,
    technique: c.technique === 'text-link' ? 'text-param' : 'tracking-param',
    cleaned: stripped.url,
    params: stripped.removed,
  };
}
