import type { Consent, Technique, TrackingKind } from '../types.js';
import type { RuleSet } from '../rules/types.js';
import type { RecipientNeedles } from '../recipient.js';

export interface Span {
  readonly start: number;
  readonly end: number;
}

/** Where a URL sits in the text, so that unwrap / strip-params can replace just the URL. */
interface UrlSlot extends Span {
  /** Quote character of the HTML attribute ('"', "'", '') or null for text/plain. */
  readonly quote: string | null;
  /** Whether the original wrote "&" as "&amp;" (kept that way when we write the URL back). */
  readonly ampEntity: boolean;
}

/**
 * A place in a part where a URL would be fetched (open side) or followed (click side). Detectors
 * only report candidates; whether one is a tracker is decided by the classifier from the rules.
 */
export interface Candidate {
  readonly kind: TrackingKind;
  readonly technique: Technique;
  /** The URL as the recipient's client would see it (entities and CSS escapes decoded). */
  readonly url: string;
  /** What goes when the policy removes this beacon / neutralises this link. */
  readonly remove: Span;
  readonly removeAction: 'remove-element' | 'remove-attribute' | 'drop-declaration' | 'neutralise-link';
  /** The URL text itself: for links, and for remote loads in a URL attribute (which only the gate rewrites). */
  readonly slot?: UrlSlot;
  /** Element-level signals for the generic heuristics. */
  readonly tiny?: boolean;
  readonly hidden?: boolean;
  /** Technique is a tracker by itself, whatever the host (iframe, meta refresh, a ping...). */
  readonly alwaysTracking?: boolean;
  /** CSS inside @media print: a fetch that only tells someone the mail was printed. */
  readonly printOnly?: boolean;
  /** CSS for the quoted part of a reply/forward: fires when our recipient forwards the mail. */
  readonly quotedOnly?: boolean;
  /** For links: the visible text around it (anchor text, or the words before a plain-text URL). */
  readonly linkText?: string;
  /**
   * For links with a short text ("hier", "click here") or none: the sentence the link sits in
   * ("Um sich abzumelden, klicken Sie hier"), or for a plain-text URL on a line of its own the
   * last line with words before it. What the reader goes by when the link text says nothing.
   */
  readonly context?: string;
}

export interface DetectContext {
  readonly part: string;
}

/** Every detector has this shape: part text in, candidates out. Pure. */
export interface Detector {
  readonly id: string;
  /** Lower-case MIME types this detector reads. */
  readonly contentTypes: readonly string[];
  detect(text: string, ctx: DetectContext): Candidate[];
}

/** What the classifier and policy need besides the candidate. Built once per rewrite call. */
export interface ClassifyContext {
  readonly rules: RuleSet;
  readonly consent: Consent;
  readonly needles: RecipientNeedles;
  readonly policy: EnginePolicy;
}

/** The user-configurable part of the policy that reaches the engine (config `policy.*`). */
export interface EnginePolicy {
  readonly keepCampaignParams: boolean;
  readonly readReceipts: 'keep' | 'remove';
}

export const DEFAULT_ENGINE_POLICY: EnginePolicy = Object.freeze({ keepCampaignParams: true, readReceipts: 'keep' });
