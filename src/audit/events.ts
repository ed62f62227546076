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

/**
 * Recipients of one copy accepted by the upstream while the client waited. `recipientHashes` are
 * those accepted (not the whole copy), `upstream` is this copy's own reply. (Before 2026-11-30 one
 * row per copy carried the transaction's reply.)
 */
interface RelayedEvent extends EventBase {
  readonly type: 'relayed';
  readonly messageId: string | null;
  /** Envelope sender (the relay's client, not a data subject); "" for the null sender. */
  readonly sender: string;
  /** The login the client authenticated as on a submission listener; absent otherwise. */
  readonly authUser?: string;
  readonly recipientCount: number;
  /** The upstream's reply line, addresses redacted. */
  readonly upstream: string;
  readonly rulesVersion: string;
  readonly mode: 'enforce' | 'monitor';
  readonly findingCount: number;
  /** X-Mailer or User-Agent of the message (mailer.ts); absent in rows from before 2026-11-30. */
  readonly mailer?: string | null;
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
  /**
   * Why (for heuristic decisions, the evidence: "14 links share the template news.brand.example/go/*"),
   * redacted like the URL: templates and parameter names, never a token's value or an address.
   */
  readonly note?: string;
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

/** Not delivered, and the client was told so: it keeps the message (4xx) or bounces it (5xx). */
interface RejectedEvent extends EventBase {
  readonly type: 'rejected';
  /** The reply the client got, addresses redacted. */
  readonly reason: string;
  /** This copy's own upstream reply for these recipients (absent in rows from before 2026-11-30). */
  readonly upstream?: string;
}

/** Fields of every event about a spool entry. */
interface SpoolFields {
  /** The spool entry (`queue list` id); a DSN's own entry is `dsnSpoolId` on its bounce. */
  readonly spoolId: string;
  /** Which delivery attempt this was (the one while the client waited is 1). */
  readonly attempt: number;
  /** The upstream's reply, addresses redacted; '' for a drop of an entry never tried. */
  readonly upstream: string;
}

/** Failed temporarily while the client waited; written to the spool before the 250. */
interface SpooledEvent extends EventBase, SpoolFields {
  readonly type: 'spooled';
  readonly nextAttemptAt: string;
}

/** A spool attempt that failed temporarily again. */
interface RetriedEvent extends EventBase, SpoolFields {
  readonly type: 'retried';
  readonly nextAttemptAt: string;
}

/** A spool attempt the upstream accepted. */
interface DeliveredFromSpoolEvent extends EventBase, SpoolFields {
  readonly type: 'delivered-from-spool';
}

/** Given up on: refused permanently, or still failing when spool.giveUpAfter passed. */
interface BouncedEvent extends EventBase, Omit<SpoolFields, 'spoolId'> {
  readonly type: 'bounced';
  /** null when refused permanently while the client waited (never spooled). */
  readonly spoolId: string | null;
  readonly cause: 'permanent' | 'expired';
  /** What became of the DSN: sent at once, queued in the spool, refused for good, or suppressed (null sender). */
  readonly dsn: 'sent' | 'queued' | 'undeliverable' | 'suppressed';
  /** recipientHash() of the DSN's recipient (the original envelope sender); null when suppressed. */
  readonly dsnRecipientHash: string | null;
  /** The DSN's spool entry when queued. */
  readonly dsnSpoolId: string | null;
}

/** Removed from the spool by an operator (`queue drop`): neither delivered nor bounced. */
interface DroppedEvent extends EventBase, SpoolFields {
  readonly type: 'dropped';
}

/**
 * Events that are about the relay or a person rather than a message: `queueId` and
 * `consentClass` are '' (the columns every event has), `recipientHashes` the people concerned.
 */

/** The relay started serving (one per start): which configuration and rules were in force. */
export interface RelayStartedEvent extends EventBase {
  readonly type: 'relay-started';
  /** SHA-256 of the effective configuration (secrets replaced by a marker), see src/audit/config.ts. */
  readonly configHash: string;
  readonly rulesVersion: string;
  readonly mode: 'enforce' | 'monitor';
  /** consent-relay's own version. */
  readonly version: string;
}

/**
 * A consent record changed (one per consent event, with the consent store's id of it). The
 * recipient is its keyed hash; source and evidence stay in the consent store, which can erase them.
 */
export interface ConsentChangedEvent extends EventBase {
  readonly type: 'consent-changed';
  readonly action: 'grant' | 'withdraw';
  readonly scopes: readonly string[];
  /** cli, import, http, … */
  readonly method: string;
  /** The consent store's id of the event, to find its evidence while it is kept. */
  readonly consentEventId: number | null;
  readonly until: string | null;
  /** Set for a domain-wide record (`@customer.example`); recipientHashes is then empty. */
  readonly domain?: string;
  /** The wording shown, when recorded (version and SHA-256 of its text). */
  readonly wordingVersion?: string;
  readonly wordingSha256?: string;
}

/**
 * A data-subject request was carried out (`subject export|erase|object|rectify`). `receipt` is the
 * id printed on the receipt; `counts` what was found or removed. No address: the person is
 * `recipientHashes` (for rectify: the old and the new hash).
 */
export interface SubjectRequestEvent extends EventBase {
  readonly type: 'subject-request';
  readonly request: 'export' | 'erase' | 'object' | 'rectify' | 'unobject';
  readonly receipt: string;
  readonly counts?: Readonly<Record<string, number>>;
}

/**
 * Events older than `before` were deleted for retention. Only a prefix of the chain can be purged:
 * events 1..throughSeq, the last of which had MAC `throughMac`, which is what the first remaining
 * event links to; `audit verify` accepts the missing prefix because of this event.
 */
interface RetentionPurgedEvent extends EventBase {
  readonly type: 'retention-purged';
  readonly before: string;
  readonly throughSeq: number;
  readonly throughMac: string;
  readonly events: number;
}

/**
 * A recipient who objected to contact (`subject object`) was accepted anyway because
 * `rights.doNotContact.mode` is `warn`; recorded before the message leaves. (In `reject` mode
 * they are refused at RCPT and nothing is sent.)
 */
interface DoNotContactEvent extends EventBase {
  readonly type: 'do-not-contact';
  readonly mode: 'warn';
}

/**
 * A spooled copy was filtered again before its next attempt because consent of its recipients
 * shrank after it was spooled (a withdrawal, an expiry): the trackers the new consent does not
 * allow were removed from the waiting copy. `previousClass` → `consentClass`.
 */
interface SpoolRefilteredEvent extends EventBase {
  readonly type: 'spool-refiltered';
  readonly spoolId: string;
  readonly previousClass: string;
  /** Findings the second run acted on. */
  readonly findingCount: number;
}

export type AuditEvent =
  | DoNotContactEvent
  | SpoolRefilteredEvent
  | RelayStartedEvent
  | ConsentChangedEvent
  | SubjectRequestEvent
  | RetentionPurgedEvent
  | RelayedEvent
  | FindingEvent
  | CampaignTemplateEvent
  | RejectedEvent
  | SpooledEvent
  | RetriedEvent
  | DeliveredFromSpoolEvent
  | BouncedEvent
  | DroppedEvent;
export type AuditEventType = AuditEvent['type'];
/** In the order a message can meet them. */
export const AUDIT_EVENT_TYPES = [
  'finding',
  'campaign-template',
  'relayed',
  'rejected',
  'spooled',
  'retried',
  'delivered-from-spool',
  'bounced',
  'dropped',
  'relay-started',
  'consent-changed',
  'subject-request',
  'retention-purged',
  'do-not-contact',
  'spool-refiltered',
] as const satisfies readonly AuditEventType[];

const hash = z.string().regex(/^[0-9a-f]{64}$/, 'a recipient hash (64 hex digits), not an address');
const base = {
  at: z.string().min(1),
  queueId: z.string().min(1),
  consentClass: z.string(),
  recipientHashes: z.array(hash),
};
/** Base of the events that are not about a message: queueId and consentClass are ''. */
const other = { ...base, queueId: z.string() };
const spool = {
  spoolId: z.string().min(1),
  attempt: z.number().int().nonnegative(),
  upstream: z.string(),
};

export const auditEventSchema: z.ZodType<AuditEvent> = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('relayed'),
    messageId: z.string().nullable(),
    sender: z.string(),
    authUser: z.string().optional(),
    recipientCount: z.number().int().nonnegative(),
    upstream: z.string(),
    rulesVersion: z.string(),
    mode: z.enum(['enforce', 'monitor']),
    findingCount: z.number().int().nonnegative(),
    mailer: z.string().nullable().optional(),
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
    note: z.string().optional(),
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
  z.object({ ...base, type: z.literal('rejected'), reason: z.string(), upstream: z.string().optional() }),
  z.object({ ...base, ...spool, type: z.literal('spooled'), nextAttemptAt: z.string().min(1) }),
  z.object({ ...base, ...spool, type: z.literal('retried'), nextAttemptAt: z.string().min(1) }),
  z.object({ ...base, ...spool, type: z.literal('delivered-from-spool') }),
  z.object({
    ...base,
    ...spool,
    type: z.literal('bounced'),
    spoolId: z.string().min(1).nullable(),
    cause: z.enum(['permanent', 'expired']),
    dsn: z.enum(['sent', 'queued', 'undeliverable', 'suppressed']),
    dsnRecipientHash: hash.nullable(),
    dsnSpoolId: z.string().min(1).nullable(),
  }),
  z.object({ ...base, ...spool, type: z.literal('dropped') }),
  z.object({ ...base, type: z.literal('do-not-contact'), mode: z.literal('warn') }),
  z.object({ ...base, type: z.literal('spool-refiltered'), spoolId: z.string().min(1), previousClass: z.string(), findingCount: z.number().int().nonnegative() }),
  z.object({
    ...other,
    type: z.literal('relay-started'),
    configHash: z.string().regex(/^[0-9a-f]{64}$/),
    rulesVersion: z.string(),
    mode: z.enum(['enforce', 'monitor']),
    version: z.string(),
  }),
  z.object({
    ...other,
    type: z.literal('consent-changed'),
    action: z.enum(['grant', 'withdraw']),
    scopes: z.array(z.string()),
    method: z.string(),
    consentEventId: z.number().int().nullable(),
    until: z.string().nullable(),
    domain: z.string().optional(),
    wordingVersion: z.string().optional(),
    wordingSha256: z.string().optional(),
  }),
  z.object({
    ...other,
    type: z.literal('subject-request'),
    request: z.enum(['export', 'erase', 'object', 'rectify', 'unobject']),
    receipt: z.string().min(1),
    counts: z.record(z.string(), z.number().int().nonnegative()).optional(),
  }),
  z.object({
    ...other,
    type: z.literal('retention-purged'),
    before: z.string().min(1),
    throughSeq: z.number().int().nonnegative(),
    throughMac: z.string().regex(/^[0-9a-f]{64}$/),
    events: z.number().int().nonnegative(),
  }),
]);
