/**
 * Contracts shared by the stripping engine's parts.
 *
 * Flow: detectors (pure: part text -> findings) -> policy (finding x consent -> action)
 * -> actions (edits by source position). Nothing but an edit changes a byte.
 */

/** What a recipient agreed to be tracked for. Absent record = both false. */
export interface Consent {
  readonly opens: boolean;
  readonly clicks: boolean;
}

export const NO_CONSENT: Consent = Object.freeze({ opens: false, clicks: false });
export const FULL_CONSENT: Consent = Object.freeze({ opens: true, clicks: true });

/** Stable key of a consent class, e.g. "opens,clicks", "clicks", "" (none). */
export function consentClass(c: Consent): string {
  return [c.opens ? 'opens' : '', c.clicks ? 'clicks' : ''].filter(Boolean).join(',');
}

/** The tracking purpose a finding serves; decides which consent scope lets it stay. */
export const TRACKING_KINDS = ['open', 'click'] as const;
export type TrackingKind = (typeof TRACKING_KINDS)[number];

/**
 * Where a URL was found: the technique vocabulary, declared here once. The policy table
 * (policy.ts), the audit schema (audit/events.ts) and every report derive from this list.
 * Open-side techniques make the client fetch on open; click-side ones are followed by the reader.
 */
export const TECHNIQUES = [
  // open side (remote loads)
  'img',
  'srcset',
  'input-image',
  'background-attr',
  'css-url',
  'css-import',
  'css-font-face',
  'link-rel',
  'meta-refresh',
  'media',
  'media-poster',
  'iframe',
  'object',
  'embed',
  'applet',
  'script',
  'bgsound',
  'svg-image',
  'manifest',
  'vml',
  'amp',
  'a-ping',
  'read-receipt',
  // click side
  'tracked-link',
  'tracking-param',
  'text-link',
  'text-param',
] as const;
export type Technique = (typeof TECHNIQUES)[number];

/** What the policy decided to do with a finding; declared once like the techniques. */
export const ACTIONS = [
  'remove-element', // the whole element (and its content) goes
  'remove-attribute', // one attribute of an element goes (e.g. background, poster, srcset)
  'drop-declaration', // one CSS declaration / at-rule goes
  'unwrap-link', // the link now points to the real destination
  'neutralise-link', // the link loses its URL, keeps its text
  'strip-params', // per-recipient parameters removed, the link otherwise unchanged
  'remove-header', // a header field removed (read-receipt requests, when configured)
  'gate-link', // consent given and consent.gate on: the URL now goes through the relay's gate, which checks consent at each request
  'ask-link', // an opaque tracked link without consent, links.opaque: ask: the gate asks the reader before following it
  'keep', // consent given, a link the recipient needs, or monitor mode: left as it was
] as const;
export type Action = (typeof ACTIONS)[number];

/** A rule hit: which data row (or built-in heuristic) recognised the URL. */
export interface RuleMatch {
  /** Stable id, e.g. "mailchimp.open" or "heuristic.tiny-image". Every finding carries one. */
  readonly ruleId: string;
  /** Vendor name, or null for heuristics that do not know the vendor. */
  readonly vendor: string | null;
}

/** The classifier's answer for one candidate: it tracks, by this rule, and what can be recovered. */
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
  /** The URL with the positions known to be per-recipient starred: what the audit log starts from. */
  readonly auditUrl?: string;
}

/** One tracker seen in one part, and what was done with it. */
export interface Finding extends RuleMatch {
  readonly kind: TrackingKind;
  readonly technique: Technique;
  /** IMAP-style part number ("1", "1.2", ...); "1" for a single-part message. */
  readonly part: string;
  /** Character offsets [start, end) in the decoded part text of the thing acted on. */
  readonly span: readonly [number, number];
  /** The tracking URL as found (decoded from HTML entities). Never logged unredacted. */
  readonly url: string;
  readonly action: Action;
  /** For unwrap-link: the recovered destination. For strip-params: the cleaned URL. */
  readonly replacement?: string;
  /** For strip-params: which parameters went. */
  readonly params?: readonly string[];
  /** Human-readable reason, e.g. "opaque redirect: destination only in vendor database". */
  readonly note?: string;
  /** Verdict.auditUrl: the URL with known per-recipient positions starred, redacted from instead of `url`. */
  readonly auditUrl?: string;
}

/** A change to a part's decoded text: replace [start, end) with text. Edits never overlap. */
export interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** A tracker the relay's gate stands in for (src/web/): the URL as written and what it hides. */
export interface GateTarget {
  readonly url: string;
  readonly kind: 'pixel' | 'link';
  /** The real destination when known offline (unwrapped, or the link without its per-recipient parameters). */
  readonly destination?: string;
  readonly vendor?: string;
}

/**
 * Links the relay's HTTP side puts into a copy (config consent.*, links.opaque; src/web/ makes
 * them). The engine only places them; it never signs or resolves anything.
 */
export interface MessageLinks {
  /** consent.gate: trackers kept by consent go through the gate (once `personal` is there). */
  readonly gate: boolean;
  /** consent.disclose: trackers kept by consent are named in a notice (once `personal` is there). */
  readonly disclose: boolean;
  /** links.opaque: ask; names no one, so copies for several recipients can carry it. */
  readonly ask: ((target: GateTarget) => string) | null;
  /** The notice's wording: {vendors} and {url} filled in. */
  readonly notice: { readonly text: string; readonly link: string; readonly unknownVendor: string; readonly lang: string };
  /** One recipient's own links; absent on a copy for several recipients. */
  readonly personal?: PersonalLinks;
}

interface PersonalLinks {
  optIn(): string;
  optOut(): string;
  gate(target: GateTarget): string;
}

/** The literal a sender writes where each recipient's own opt-in link should go. */
export const OPT_IN_PLACEHOLDER = '{{consent-relay:opt-in}}';
