/**
 * What the relay remembers about the campaigns it sees (issue 8, item 2): bulk tools send one
 * message per recipient, so URL positions whose values differ between copies of one campaign are
 * per-recipient. The store keeps, per campaign, only the URL templates (host, path shape, query
 * parameter names) and per position a small sketch of keyed value hashes: enough to tell "same"
 * from "different" between copies, never the values themselves.
 *
 * Asynchronous and backend-neutral (architecture decision 10): a PostgreSQL store shared by several
 * relays implements the same contract. Everything is bounded: entries expire `windowMs` after a
 * campaign's last copy, at most `maxCampaigns` campaigns (least recently seen evicted first) and at
 * most `maxUrlsPerCampaign` URLs per campaign are kept.
 */

/** One position of a URL: a path segment ("path 3", 1-based) or a query parameter ("query t"). */
export type Position = string;

/** One URL of a copy, as the analyser aligns it with the same URL of the other copies. */
interface SlotObservation {
  /** Template id: host, number of path segments, sorted parameter names. Same in every copy. */
  readonly template: string;
  /** Which occurrence of that template in the message (0-based, in message order). */
  readonly occurrence: number;
  /** The values at each position. Hashed by the store before anything is written. */
  readonly values: ReadonlyMap<Position, string>;
}

export interface CopyObservation {
  /** The campaign key's canonical text (sender, subject skeleton, HTML skeleton); hashed by the store. */
  readonly campaign: string;
  readonly slots: readonly SlotObservation[];
}

/** A position found to be per-recipient, for one URL of the campaign. */
export interface VaryingPosition {
  readonly position: Position;
  /** How many different values the copies showed at this position. */
  readonly distinct: number;
}

export interface CampaignState {
  /** Copies of this campaign seen in the window, this one included (a copy seen before counts once). */
  readonly copies: number;
  /** False when this exact copy (every value the same) had been recorded before: nothing new learned. */
  readonly recorded: boolean;
  /** Per slot (`template` + "#" + occurrence): the positions whose values differ between recipients. */
  readonly varying: ReadonlyMap<string, readonly VaryingPosition[]>;
  /** Templates that gained a varying position with this copy (for the audit log). */
  readonly learned: readonly { readonly template: string; readonly positions: readonly Position[] }[];
  /** A short, keyed, non-reversible reference to the campaign (for audit rows). */
  readonly ref: string;
}

export interface CampaignStore {
  /**
   * Record one copy (unless the very same copy was recorded before) and return what is known
   * after it, atomically. Throws RelayError CAMPAIGN_STORE_UNAVAILABLE.
   */
  observe(copy: CopyObservation, now?: Date): Promise<CampaignState>;
  /** Campaigns currently remembered (expired ones not counted). */
  size(now?: Date): Promise<number>;
  close(): Promise<void>;
}

export interface CampaignLimits {
  /** Forget a campaign this long after its last copy. */
  readonly windowMs: number;
  readonly maxCampaigns: number;
  readonly maxUrlsPerCampaign: number;
}

export const DEFAULT_CAMPAIGN_LIMITS: CampaignLimits = Object.freeze({ windowMs: 24 * 3_600_000, maxCampaigns: 10_000, maxUrlsPerCampaign: 500 });

/** The slot key used in CampaignState.varying. */
export function slotKey(template: string, occurrence: number): string {
  return `${template}#${occurrence}`;
}

/**
 * When a position counts as per-recipient: at least two different values, and (nearly) every copy
 * brought a value of its own. A/B variants or a handful of recommended products repeat values
 * across copies and stop counting as soon as they do; a resent copy may repeat once in four.
 */
export function isVarying(copies: number, distinct: number, repeats: number): boolean {
  return distinct >= 2 && repeats * 4 <= copies;
}
