/**
 * Click side: recover a tracked link's destination offline, and strip per-recipient parameters
 * from ordinary links. Works on URL strings so that what is not removed keeps its exact spelling.
 */
import { decodeWith, unwrapNested } from './decoders/index.js';
import type { RuleSet } from './rules/types.js';
import { containsRecipient, type RecipientNeedles } from './recipient.js';

const MAX_WRAPPER_DEPTH = 5;

/** Parse an absolute http(s) URL (protocol-relative counts as https); anything else is null. */
export function httpUrl(raw: string): URL | null {
  // what the WHATWG URL parser does before anything else: strip leading/trailing C0 controls and
  // spaces, drop tabs and newlines anywhere; "\\" counts as "/" for http(s)
  const s = raw.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '').replace(/[\t\n\r]/g, '');
  const candidate = /^[\\/]{2}/.test(s) ? `https:${s}` : s;
  if (!/^https?:/i.test(candidate)) return null;
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/**
 * The innermost destination of a tracked link, unwrapping wrappers inside wrappers; null when
 * the destination lives only in the vendor's database (opaque), including when an inner wrapper
 * is opaque.
 */
export function resolveDestination(url: URL, rules: RuleSet): string | null {
  // the classifier, the needed-link check and the analysers all ask about the same links
  let memo = destinations.get(rules);
  if (!memo) {
    memo = new Map();
    destinations.set(rules, memo);
  }
  const known = memo.get(url.href);
  if (known !== undefined) return known;
  const found = unwrapDestination(url, rules);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(url.href, found);
  return found;
}

/** Bounded: a full memo starts over rather than grow with hostile input. */
const MEMO_MAX = 8192;
const destinations = new WeakMap<RuleSet, Map<string, string | null>>();

function unwrapDestination(url: URL, rules: RuleSet): string | null {
  const step = (u: URL): string | null => {
    const m = rules.matchUrl(u, 'click');
    if (!m) return null;
    return decodeWith(u, m.rule.unwrap ?? { decoder: 'generic' });
  };
  const { destination } = unwrapNested(url.href, step, MAX_WRAPPER_DEPTH);
  if (destination === null) return null;
  const final = httpUrl(destination);
  if (!final) return null;
  // an opaque tracker inside a decodable one: we know only where the inner tracker is
  if (rules.matchUrl(final, 'click')) return null;
  return destination;
}

export interface StrippedParams {
  readonly url: string;
  readonly removed: readonly string[];
  /** Rule that decided the first removal (for the finding). */
  readonly ruleId: string | null;
  readonly vendor: string | null;
}

/** Parameter names that carry a person when their value looks like an id. */
const ID_PARAM_NAMES = new Set([
  'email',
  'e',
  'eid',
  'recipient',
  'recipient_id',
  'rid',
  'subscriber',
  'subscriber_id',
  'subscriberid',
  'contact',
  'contact_id',
  'contactid',
  'uid',
  'user_id',
  'userid',
  'lead_id',
  'leadid',
  'member_id',
  'memberid',
]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A value that reads like a generated identifier (hex, a UUID, a random base64-like token) rather
 * than words, numbers and dates ("NewsletterV2-23_01_18-DE", "2026_11_blackfriday").
 */
export function looksLikeId(value: string): boolean {
  if (/^[0-9a-f]{16,}$/i.test(value) || UUID.test(value)) return true;
  return randomToken(value);
}

/**
 * Random tokens switch between upper case, lower case and digits at almost every character;
 * words, camelCase names, numbers and dates run long in one class. Separators are left out so
 * that base64url tokens holding "-" or "_" are read whole.
 */
function randomToken(value: string): boolean {
  if (value.length < 16 || !/^[A-Za-z0-9+/_=.~-]+$/.test(value)) return false;
  // a capitalised word ("Rafael", "AdobeStock") is one run, not a switch at every capital
  const chars = value.replace(/[-_.~+/=]+/g, '').replace(/[A-Z](?=[a-z]{2})/g, (c) => c.toLowerCase());
  if (chars.length < 16 || !/[A-Za-z]/.test(chars) || !/[0-9]|[A-Z].*[a-z]|[a-z].*[A-Z]/.test(chars)) return false;
  const cls = (c: string): number => (c >= '0' && c <= '9' ? 0 : c >= 'a' && c <= 'z' ? 1 : 2);
  let switches = 0;
  for (let i = 1; i < chars.length; i++) if (cls(chars[i]!) !== cls(chars[i - 1]!)) switches++;
  return switches / (chars.length - 1) >= 0.35;
}

/**
 * A campaign parameter's value (utm_campaign, pk_campaign, ...) is the same for every recipient
 * unless it carries a per-recipient-looking token: an address, a UUID, a hash-length hex string
 * or a random token in one of its parts. Shorter hex ("3f2a1b9c0d") and readable names stay.
 */
export function campaignValueIdentifies(value: string): boolean {
  if (value.includes('@')) return true;
  return value.split(/[\s|:;,]+|(?<=[a-z0-9])[._](?=[a-z0-9])/i).some((part) => UUID.test(part) || (/^[0-9a-f]{32,}$/i.test(part) && /[a-f]/i.test(part)) || randomToken(part)) || randomToken(value);
}

/**
 * A merge tag the sending tool never filled in (a test send, a broken template): the literal is
 * the same for every recipient, so it identifies no one and the link stays as it is.
 */
function unfilledMergeTag(value: string): boolean {
  return /^(\*\|[A-Z0-9_:]+\|\*|\{\{[^{}]*\}\}|%%[^%]+%%|\$\{[^{}]+\}|UNIQID)$/.test(value);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export function stripParams(raw: string, rules: RuleSet, needles: RecipientNeedles, keepCampaign = true): StrippedParams {
  const hashAt = raw.indexOf('#');
  const beforeHash = hashAt < 0 ? raw : raw.slice(0, hashAt);
  const fragment = hashAt < 0 ? '' : raw.slice(hashAt);
  const q = beforeHash.indexOf('?');
  if (q < 0) return { url: raw, removed: [], ruleId: null, vendor: null };
  const base = beforeHash.slice(0, q);
  const url = httpUrl(raw);
  const host = url?.hostname ?? '';
  const removed: string[] = [];
  let ruleId: string | null = null;
  let vendor: string | null = null;
  const kept = beforeHash
    .slice(q + 1)
    .split('&')
    .filter((seg) => {
      if (!seg) return true;
      const eq = seg.indexOf('=');
      const name = safeDecode(eq < 0 ? seg : seg.slice(0, eq));
      const value = eq < 0 ? '' : safeDecode(seg.slice(eq + 1));
      const rule = rules.matchParam(name, host);
      let drop: string | null = null;
      let dropVendor: string | null = null;
      if (rule && (!rule.campaign || !keepCampaign) && !unfilledMergeTag(value)) {
        drop = rule.id;
        dropVendor = rule.vendor;
      } else if (value && containsRecipient(value, needles)) {
        drop = 'heuristic.recipient-id';
      } else if (rule?.campaign && campaignValueIdentifies(value)) {
        drop = rule.id;
        dropVendor = rule.vendor;
      } else if (ID_PARAM_NAMES.has(name.toLowerCase()) && (value.includes('@') || looksLikeId(value))) {
        drop = 'heuristic.id-param';
      }
      if (drop === null) return true;
      removed.push(name);
      ruleId ??= drop;
      vendor ??= dropVendor;
      return false;
    });
  if (!removed.length) return { url: raw, removed, ruleId: null, vendor: null };
  return { url: base + (kept.length ? `?${kept.join('&')}` : '') + fragment, removed, ruleId, vendor };
}
