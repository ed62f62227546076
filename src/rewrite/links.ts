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
const ID_PARAM_NAMES = new Set(['email', 'e', 'eid', 'recipient', 'recipient_id', 'rid', 'subscriber', 'subscriber_id', 'subscriberid', 'contact', 'contact_id', 'contactid', 'uid', 'user_id', 'userid', 'lead_id', 'leadid', 'member_id', 'memberid']);

export function looksLikeId(value: string): boolean {
  if (/^[0-9a-f]{16,}$/i.test(value)) return true;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return true;
  return value.length >= 20 && /^[A-Za-z0-9+/_=.-]+$/.test(value) && /[A-Z]/.test(value) && /[a-z]/.test(value) && /[0-9]/.test(value);
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
      if (rule && (!rule.campaign || !keepCampaign)) {
        drop = rule.id;
        dropVendor = rule.vendor;
      } else if (value && containsRecipient(value, needles)) {
        drop = 'heuristic.recipient-id';
      } else if (rule?.campaign && looksLikeId(value)) {
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
