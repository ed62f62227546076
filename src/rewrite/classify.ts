/**
 * Decides whether a candidate is a tracker, and which rule says so. Vendor rules (data) first,
 * then technique rules (elements no legitimate mail needs), then generic heuristics. Pure.
 */
import type { Verdict } from './types.js';
import type { Candidate, ClassifyContext } from './detectors/types.js';
import type { Hint } from './analysis/types.js';
import { containsRecipient } from './recipient.js';
import { httpUrl, looksLikeId, resolveDestination, stripParams } from './links.js';
import type { TrackerRule } from './rules/types.js';

// Path shapes of open beacons. Only applied to remote loads, never to links (parcel tracking!).
const BEACON_PATH =
  /\/(open|opened|opens|track|tracker|tracking|trace|trk|pixel|beacon|impression|imp|openrate)(?=[/._?=&]|$)|[?&](?:[a-z_]*=)?open(?=&|$)|\/(1x1|t|o|p|px|pixel|open|beacon|blank|spacer)\.(gif|png|jpg|php|aspx?)(?=\?.|$)/i;
const SPACER_NAME = /\/(spacer|blank|transparent|clear|pixel_transparent|s)\.gif$/i;

/**
 * Order of evidence: a link the recipient needs (the analysers' `protect`, recognised by
 * analysis/needed-links.ts and the List-Unsubscribe header) is never touched; then
 * vendor rules; then what the message-level analysis concluded; then single-URL heuristics.
 */
export function classify(c: Candidate, ctx: ClassifyContext, hint?: Hint): Verdict | null {
  return c.kind === 'open' ? classifyOpen(c, ctx, hint) : classifyClick(c, ctx, hint);
}

function classifyOpen(c: Candidate, ctx: ClassifyContext, hint: Hint | undefined): Verdict | null {
  const url = httpUrl(c.url);
  if (!url) {
    // iframe src=data:..., object data=cid:...: the element itself is the risk
    if (c.alwaysTracking && !/^(#|about:blank$|javascript:void)/i.test(c.url.trim())) return { ruleId: `technique.${c.technique}`, vendor: null, technique: c.technique };
    return null;
  }
  const vendor = ctx.rules.matchUrl(url, 'open') ?? ctx.rules.matchUrl(url, 'click');
  if (vendor && !(vendor.rule.servesContent && hostOnly(vendor.rule) && contentImage(c, url, ctx))) return { ruleId: vendor.ruleId, vendor: vendor.vendor, technique: c.technique };
  if (hint?.verdict) return hint.verdict;
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

function classifyClick(c: Candidate, ctx: ClassifyContext, hint: Hint | undefined): Verdict | null {
  if (c.technique === 'a-ping') return { ruleId: 'technique.a-ping', vendor: null, technique: 'a-ping' };
  const url = httpUrl(c.url);
  if (!url) return null;
  const match = ctx.rules.matchUrl(url, 'click');
  if (hint?.protect) {
    // kept as written; a known tracker is still recorded, so the audit shows what stayed and why
    return match ? { ruleId: match.ruleId, vendor: match.vendor, technique: c.technique, destination: null, protectedLink: true, note: `kept so that it keeps working: ${hint.protect}` } : null;
  }
  if (match) {
    const dest = resolveDestination(url, ctx.rules);
    if (dest) return { ruleId: match.ruleId, vendor: match.vendor, technique: c.technique, destination: stripParams(dest, ctx.rules, ctx.needles, ctx.policy.keepCampaignParams).url };
    return { ruleId: match.ruleId, vendor: match.vendor, technique: c.technique, destination: null, note: 'opaque redirect: the destination is only in the vendor database' };
  }
  if (hint?.verdict) return hint.verdict;
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

const IMAGE_LIKE: ReadonlySet<string> = new Set(['img', 'srcset', 'input-image', 'background-attr', 'css-url', 'vml', 'amp', 'svg-image']);
const IMAGE_FILE = /\/([^/]+)\.(png|jpe?g|gif|webp|svg|avif|bmp)$/i;
const BEACON_NAME = /^(open|opened|pixel|px|track|tracking|trk|beacon|spacer|blank|clear|transparent|trans|dot|empty|shim|1x1|t|o|p|i|b|img|image)$/i;

/** A rule that names a whole host (no path, query or URL shape). */
function hostOnly(rule: TrackerRule): boolean {
  return !rule.path && !rule.query && !rule.url;
}

/**
 * An ordinary picture (a logo, a product photo) on a host whose rule says it also serves content
 * (`content: true` in the rules file), beside a vendor's pixel: a
 * visible image whose file has a name people give files, with nothing per-recipient in the URL
 * and no beacon shape. Such a URL is the same for every recipient, so it tracks no one; a host
 * rule alone does not remove it.
 */
function contentImage(c: Candidate, url: URL, ctx: ClassifyContext): boolean {
  if (!IMAGE_LIKE.has(c.technique) || c.tiny || c.hidden) return false;
  const file = IMAGE_FILE.exec(url.pathname);
  if (!file) return false;
  const stem = decodeURIComponentSafe(file[1]!);
  if (BEACON_NAME.test(stem) || !/[A-Za-z]{3}/.test(stem) || looksLikeId(stem)) return false;
  if (BEACON_PATH.test(url.pathname + url.search) || containsRecipient(c.url, ctx.needles)) return false;
  for (const seg of url.pathname.split('/')) if (looksLikeId(decodeURIComponentSafe(seg)) && !/^[0-9a-f-]+$/i.test(seg)) return false;
  for (const [, v] of url.searchParams) if (looksLikeId(v) || v.includes('@')) return false;
  return true;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
