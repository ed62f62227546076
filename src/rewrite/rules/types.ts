import type { RuleMatch, TrackingKind } from '../types.js';

/**
 * How to recover a click tracker's real destination offline. `decoder` names an entry of the
 * decoder registry (src/rewrite/decoders/index.ts); the other keys are that decoder's arguments.
 * Example: { decoder: 'query', param: 'url' }.
 */
export interface UnwrapSpec {
  readonly decoder: string;
  readonly [arg: string]: string | number | boolean | readonly string[];
}

/** One vendor rule, as loaded and compiled from the rules file. */
export interface TrackerRule {
  readonly id: string;
  readonly vendor: string;
  /** open: beacons (pixels, remote CSS...); click: redirect links; both: host serves only tracking. */
  readonly kind: TrackingKind | 'both';
  /** Registrable host or suffix; matches itself and any subdomain. Lower-case, no port. */
  readonly host?: string;
  /**
   * Every host suffix the rule applies to, when the rules file lists several (e.g. a vendor's
   * numbered tracking domains); `host` is the first of them.
   */
  readonly hosts?: readonly string[];
  /** Case-insensitive regex tested against the URL's pathname. */
  readonly path?: RegExp;
  /** Case-insensitive regex tested against the URL's search string (including "?"). */
  readonly query?: RegExp;
  /** Case-insensitive regex tested against the whole URL, for rules host/path cannot express. */
  readonly url?: RegExp;
  /** For click rules whose destination is in the URL. Absent: opaque, the link is neutralised. */
  readonly unwrap?: UnwrapSpec;
  /**
   * The host also serves the sender's own content (an ESP's image hosting beside its pixels):
   * an ordinary visible image there is not removed by a host-only match. Absent: the host serves
   * nothing but tracking, and everything loaded from it goes.
   */
  readonly servesContent?: boolean;
}

/** A query parameter that identifies a recipient (or campaign) and is stripped from links. */
export interface ParamRule {
  readonly id: string;
  readonly vendor: string | null;
  /** Exact parameter name (case-insensitive), or a prefix ending in "*" such as "utm_*". */
  readonly name: string;
  /** Campaign-level parameter that identifies no one: kept unless its value carries an id. */
  readonly campaign?: boolean;
  /** Only when the link's host ends with this suffix (e.g. LinkedIn's "trk"). */
  readonly host?: string;
}

export interface TrackerMatch extends RuleMatch {
  readonly rule: TrackerRule;
}

export interface RuleSet {
  /** Version string of the rules file; recorded in the audit log. */
  readonly version: string;
  readonly trackers: readonly TrackerRule[];
  readonly params: readonly ParamRule[];
  /** First vendor rule that recognises `url` as a tracker of `kind` ('both' rules match either). */
  matchUrl(url: URL, kind: TrackingKind): TrackerMatch | null;
  /** The parameter rule for `name` on a link to `host`, if any. */
  matchParam(name: string, host: string): ParamRule | null;
}
