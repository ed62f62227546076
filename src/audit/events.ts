/**
 * What the audit log records: one typed event per thing that happened to a message. Events carry
 * recipient hashes (keys.ts), a redacted URL (redact.ts) and short reasons, never bodies, raw
 * URLs or recipient addresses (decision 8). `schema` checks the same shape at run time: rows read
 * back from the database and events handed in by other modules pass through it.
 */
import { z } from 'zod';

import { ACTIONS, TECHNIQUES, TRACKING_KINDS, type Action, type Technique, type TrackingKind } from '../rewrite/types.js';

interface EventBase {
  /** ISO-8601 UTC. */
  readonly at: string;
  /** The relay's id for the message (the SMTP transaction). */
  readonly queueId: string;
  /** consentClass() of the copy this event is about: "opens,clicks", "clicks", "" (none). */
  readonly consentClass: string;
  /** recipientHash() of every recipient the event concerns. */
  readonly recipientHashes: readonly string[];
}

/** One copy handed upstream and accepted. */
export interface RelayedEvent extends EventBase {
  readonly type: 'relayed';
  readonly messageId: string | null;
  /** Envelope sender (the relay's client, not a data subject); "" for the null sender. */
  readonly sender: string;
  readonly recipientCount: number;
  /** The upstream's reply line, addresses redacted. */
  readonly upstream: string;
  readonly rulesVersion: string;
  readonly mode: 'enforce' | 'monitor';
  readonly findingCount: number;
}

/** One tracker found in one copy, and what was done with it. */
export interface FindingEvent extends EventBase {
  readonly type: 'finding';
  readonly kind: TrackingKind;
  readonly technique: Technique;
  readonly vendor: string | null;
  readonly ruleId: string;
  readonly action: Action;
  /** redactUrl() of the tracker's URL. */
  readonly redactedUrl: string;
  /**
   * How many occurrences in the copy share every field above (the same tracker shape repeated,
   * e.g. 96 product links through one redirector). Absent means 1.
   */
  readonly count?: number;
  /** 'monitor': the action is what enforce mode would have done; nothing was removed. */
  readonly mode?: 'enforce' | 'monitor';
}

/**
 * A URL template found to carry per-recipient values across the copies of one campaign (learned
 * by the relay, issue 8 item 2). Host and path shape only: varying positions are `{v}`, nothing
 * that was in a copy's URL values. Concerns no recipient.
 */
export interface CampaignTemplateEvent extends EventBase {
  readonly type: 'campaign-template';
  /** Keyed short reference grouping the templates of one campaign (not reversible). */
  readonly campaign: string;
  readonly host: string;
  /** e.g. "/go/{v}/*?t={v}&utm_source=*". */
  readonly pathShape: string;
  /** The varying positions: "path 2", "query t". */
  readonly positions: readonly string[];
  /** Copies of the campaign seen when the template was learned. */
  readonly copies: number;
}

export const OUTCOME_TYPES = ['spooled', 'delivered-from-spool', 'bounced', 'rejected'] as const;
export type OutcomeType = (typeof OUTCOME_TYPES)[number];

/** What happened to a copy (or its remainder) other than plain relaying. */
export interface OutcomeEvent extends EventBase {
  readonly type: OutcomeType;
  /** Why, one line, addresses redacted (e.g. the upstream's reply). */
  readonly reason: string;
}

export type AuditEvent = RelayedEvent | FindingEvent | CampaignTemplateEvent | OutcomeEvent;
export type AuditEventType = AuditEvent['type'];
export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = ['relayed', 'finding', 'campaign-template', ...OUTCOME_TYPES];

const base = {
  at: z.string().min(1),
  queueId: z.string().min(1),
  consentClass: z.string(),
  recipientHashes: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'a recipient hash (64 hex digits), not an address')),
};

export const auditEventSchema: z.ZodType<AuditEvent> = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('relayed'),
    messageId: z.string().nullable(),
    sender: z.string(),
    recipientCount: z.number().int().nonnegative(),
    upstream: z.string(),
    rulesVersion: z.string(),
    mode: z.enum(['enforce', 'monitor']),
    findingCount: z.number().int().nonnegative(),
  }),
  z.object({
    ...base,
    type: z.literal('finding'),
    kind: z.enum(TRACKING_KINDS),
    technique: z.enum(TECHNIQUES),
    vendor: z.string().nullable(),
    ruleId: z.string(),
    action: z.enum(ACTIONS),
    redactedUrl: z.string(),
    count: z.number().int().positive().optional(),
    mode: z.enum(['enforce', 'monitor']).optional(),
  }),
  z.object({
    ...base,
    type: z.literal('campaign-template'),
    campaign: z.string().regex(/^[0-9a-f]{1,64}$/),
    host: z.string().min(1),
    pathShape: z.string(),
    positions: z.array(z.string()),
    copies: z.number().int().positive(),
  }),
  z.object({ ...base, type: z.enum(OUTCOME_TYPES), reason: z.string() }),
]);
