/**
 * What became of each copy's recipients, for the record: accepted while the client waited,
 * refused with the transaction, spooled, retried, delivered from the spool, bounced, dropped by an
 * operator. Unlike DeliveryEvents (events.ts, for the operational log: ids and counts only) a
 * disposition names its recipients, because the audit log must say whom it concerns; the audit
 * recorder turns them into keyed hashes before anything is stored. Delivery only hands them to a
 * DispositionSink: which store keeps them is not its business.
 *
 * One disposition per copy and upstream reply: recipients of one copy that got different replies
 * (450 for one, 550 for another) are different facts.
 */

interface DispositionBase {
  /** The SMTP transaction the copy came from (a DSN carries the id of the message it reports on). */
  readonly queueId: string;
  readonly consentClass: string;
  /** The recipients this is about. Never logged; hashed by the audit log. */
  readonly recipients: readonly string[];
  /** The upstream's reply for these recipients, one line; '' when there was none (a drop). */
  readonly response: string;
}

/** What happened to the DSN owed for bounced recipients. */
export interface DsnFate {
  /** sent: accepted upstream at once; queued: in the spool (spoolId); undeliverable: refused for good; suppressed: null sender, or a sender the listener did not vouch for (no backscatter). */
  readonly fate: 'sent' | 'queued' | 'undeliverable' | 'suppressed';
  /** The DSN's recipient (the original envelope sender); null when suppressed. */
  readonly to: string | null;
  readonly spoolId: string | null;
}

export type Disposition =
  /** Accepted by the upstream while the client waited. */
  | (DispositionBase & { readonly type: 'relayed' })
  /** Not delivered, and the client was told so (`reply`): it keeps the message (4xx) or bounces it (5xx). */
  | (DispositionBase & { readonly type: 'rejected'; readonly reply: string })
  /** Failed temporarily while the client waited; written to the spool before the 250. */
  | (DispositionBase & { readonly type: 'spooled'; readonly spoolId: string; readonly attempt: number; readonly nextAttemptAt: string })
  /** A spool attempt that failed temporarily again. */
  | (DispositionBase & { readonly type: 'retried'; readonly spoolId: string; readonly attempt: number; readonly nextAttemptAt: string })
  /** A spool attempt the upstream accepted. */
  | (DispositionBase & { readonly type: 'delivered-from-spool'; readonly spoolId: string; readonly attempt: number })
  /**
   * Given up: refused permanently, or still failing when spool.giveUpAfter passed (`expired`).
   * spoolId is null for a permanent refusal while the client waited (nothing was spooled).
   */
  | (DispositionBase & {
      readonly type: 'bounced';
      readonly spoolId: string | null;
      readonly attempt: number;
      readonly cause: 'permanent' | 'expired';
      readonly dsn: DsnFate;
    })
  /** Removed from the spool by an operator (`queue drop`): neither delivered nor bounced. */
  | (DispositionBase & { readonly type: 'dropped'; readonly spoolId: string; readonly attempt: number });

/**
 * Where dispositions go. Awaited: the transaction records before it answers the client and before
 * a spooled DSN can be attempted, so a message's record reads in the order things happened. A
 * rejection is reported (DeliveryEvent 'audit-failed'), never turned into a different reply: by
 * then the mail has gone or is ours.
 */
export type DispositionSink = (dispositions: readonly Disposition[]) => Promise<void>;

/** Recipients grouped by the reply they got, in first-seen order. */
export function byResponse<T extends { readonly recipient: string; readonly response: string }>(failures: readonly T[]): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const f of failures) {
    const g = groups.get(f.response);
    if (g) g.push(f.recipient);
    else groups.set(f.response, [f.recipient]);
  }
  return [...groups];
}
