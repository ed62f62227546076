/**
 * `audit report`: figures for compliance from the audit events of a period. Pure (rows in,
 * figures out), so any store's rows serve.
 *
 * Definitions (the README repeats them):
 * - a *removal* is a tracker occurrence taken out of a copy (finding action other than `keep`, in
 *   enforce mode; `count` occurrences per row): what one group of recipients did not receive;
 * - *trackers* of a message are the distinct tracker shapes found in it (each counted once per
 *   message whatever the number of copies, with its largest count): what the sender put in;
 * - *recipients* are the recipients of copies handled while the client waited (`relayed`,
 *   `spooled` first attempts, `rejected`); *with consent* means a consent class other than none.
 * Senders are personal data: they appear here (a compliance report) and never in operational logs.
 */
import type { AuditRow } from './log.js';

export type ReportDimension = 'sender' | 'vendor' | 'technique' | 'day';
export const REPORT_DIMENSIONS: readonly ReportDimension[] = ['sender', 'vendor', 'technique', 'day'];
export type ReportFormat = 'table' | 'csv' | 'json' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'csv', 'json', 'html'];

interface GroupFigures {
  readonly key: string;
  /** Messages with at least one finding in this group. */
  readonly messages: number;
  /** Distinct tracker shapes found (per message, see above). */
  readonly trackers: number;
  readonly removals: number;
  /** Occurrences kept (consent, needed links) or only noted (monitor mode). */
  readonly kept: number;
}

export interface ToolFigures {
  readonly key: string;
  readonly messages: number;
  readonly trackers: number;
  readonly removals: number;
}

export interface AuditSummary {
  readonly since: string | null;
  readonly until: string | null;
  readonly firstEvent: string | null;
  readonly lastEvent: string | null;
  readonly messages: number;
  readonly messagesWithTrackers: number;
  readonly trackers: number;
  readonly removals: number;
  readonly kept: number;
  readonly recipients: { readonly total: number; readonly withConsent: number; readonly opens: number; readonly clicks: number; readonly share: number | null };
  readonly by: ReportDimension;
  readonly groups: readonly GroupFigures[];
  readonly topSenders: readonly ToolFigures[];
  /** X-Mailer / User-Agent of the messages. */
  readonly topMailers: readonly ToolFigures[];
  /** Rule vendors: whose tracking the messages carried. */
  readonly topVendors: readonly ToolFigures[];
  /** Removals per day and vendor (for the chart). */
  readonly daily: readonly { readonly day: string; readonly vendor: string; readonly removals: number }[];
  readonly rulesVersions: readonly { readonly version: string; readonly firstSeen: string; readonly lastSeen: string; readonly messages: number; readonly starts: number }[];
  readonly starts: readonly { readonly at: string; readonly configHash: string; readonly rulesVersion: string; readonly mode: string }[];
}

const NO_VENDOR = '(no vendor: structural)';
const UNKNOWN_MAILER = '(not named)';

interface Acc {
  messages: Set<string>;
  trackers: number;
  removals: number;
  kept: number;
}
const acc = (): Acc => ({ messages: new Set(), trackers: 0, removals: 0, kept: 0 });
function bump(map: Map<string, Acc>, key: string): Acc {
  let a = map.get(key);
  if (!a) {
    a = acc();
    map.set(key, a);
  }
  return a;
}

export function summarise(rows: readonly AuditRow[], by: ReportDimension, period: { since?: string; until?: string } = {}, top = 10): AuditSummary {
  const senderOf = new Map<string, string>();
  const mailerOf = new Map<string, string>();
  const dayOf = new Map<string, string>();
  const messages = new Set<string>();
  const recipients = { total: 0, withConsent: 0, opens: 0, clicks: 0 };
  const versions = new Map<string, { firstSeen: string; lastSeen: string; messages: Set<string>; starts: number }>();
  const starts: AuditSummary['starts'][number][] = [];
  const version = (v: string, at: string): { firstSeen: string; lastSeen: string; messages: Set<string>; starts: number } => {
    let e = versions.get(v);
    if (!e) {
      e = { firstSeen: at, lastSeen: at, messages: new Set(), starts: 0 };
      versions.set(v, e);
    }
    if (at < e.firstSeen) e.firstSeen = at;
    if (at > e.lastSeen) e.lastSeen = at;
    return e;
  };
  for (const r of rows) {
    if (r.type === 'relayed') {
      senderOf.set(r.queueId, r.sender || '<>');
      mailerOf.set(r.queueId, r.mailer ?? UNKNOWN_MAILER);
      version(r.rulesVersion, r.at).messages.add(r.queueId);
    } else if (r.type === 'relay-started') {
      version(r.rulesVersion, r.at).starts++;
      starts.push({ at: r.at, configHash: r.configHash, rulesVersion: r.rulesVersion, mode: r.mode });
    }
    if (r.queueId && (r.type === 'relayed' || r.type === 'finding' || r.type === 'rejected' || r.type === 'spooled')) {
      messages.add(r.queueId);
      if (!dayOf.has(r.queueId)) dayOf.set(r.queueId, r.at.slice(0, 10));
    }
    if ((r.type === 'relayed' || r.type === 'rejected' || (r.type === 'spooled' && r.attempt === 1)) && r.consentClass !== 'dsn') {
      const n = r.recipientHashes.length;
      recipients.total += n;
      if (r.consentClass !== '') recipients.withConsent += n;
      if (r.consentClass.split(',').includes('opens')) recipients.opens += n;
      if (r.consentClass.split(',').includes('clicks')) recipients.clicks += n;
    }
  }

  // trackers per message: distinct shapes, largest count over the copies
  const shapes = new Map<string, { queueId: string; vendor: string; technique: string; count: number }>();
  const groups = new Map<string, Acc>();
  const senders = new Map<string, Acc>();
  const mailers = new Map<string, Acc>();
  const vendors = new Map<string, Acc>();
  const daily = new Map<string, number>();
  let removals = 0;
  let kept = 0;
  const keyOf = (queueId: string, vendor: string, technique: string, at: string): string => {
    switch (by) {
      case 'sender':
        return senderOf.get(queueId) ?? '(unknown: not relayed)';
      case 'vendor':
        return vendor;
      case 'technique':
        return technique;
      case 'day':
        return dayOf.get(queueId) ?? at.slice(0, 10);
    }
  };
  for (const r of rows) {
    if (r.type !== 'finding') continue;
    const n = r.count ?? 1;
    const vendor = r.vendor ?? NO_VENDOR;
    const removed = r.action !== 'keep' && r.mode !== 'monitor';
    const g = bump(groups, keyOf(r.queueId, vendor, r.technique, r.at));
    g.messages.add(r.queueId);
    const sender = senderOf.get(r.queueId) ?? '(unknown: not relayed)';
    const mailer = mailerOf.get(r.queueId) ?? UNKNOWN_MAILER;
    for (const [map, key] of [
      [senders, sender],
      [mailers, mailer],
      [vendors, vendor],
    ] as const) {
      const a = bump(map, key);
      a.messages.add(r.queueId);
      if (removed) a.removals += n;
    }
    if (removed) {
      g.removals += n;
      removals += n;
      const day = r.at.slice(0, 10);
      const dk = `${day}\u0000${vendor}`;
      daily.set(dk, (daily.get(dk) ?? 0) + n);
    } else {
      g.kept += n;
      kept += n;
    }
    const shape = [r.queueId, r.kind, r.technique, vendor, r.ruleId, r.redactedUrl].join('\u0000');
    const s = shapes.get(shape);
    if (!s) shapes.set(shape, { queueId: r.queueId, vendor, technique: r.technique, count: n });
    else if (n > s.count) s.count = n;
  }
  let trackers = 0;
  const withTrackers = new Set<string>();
  for (const s of shapes.values()) {
    trackers += s.count;
    withTrackers.add(s.queueId);
    bump(groups, keyOf(s.queueId, s.vendor, s.technique, '')).trackers += s.count;
    bump(senders, senderOf.get(s.queueId) ?? '(unknown: not relayed)').trackers += s.count;
    bump(mailers, mailerOf.get(s.queueId) ?? UNKNOWN_MAILER).trackers += s.count;
    bump(vendors, s.vendor).trackers += s.count;
  }

  const ranked = (m: Map<string, Acc>): ToolFigures[] =>
    [...m.entries()]
      .map(([key, a]) => ({ key, messages: a.messages.size, trackers: a.trackers, removals: a.removals }))
      .sort((a, b) => b.trackers - a.trackers || b.removals - a.removals || a.key.localeCompare(b.key))
      .slice(0, top);
  const groupList = [...groups.entries()]
    .map(([key, a]) => ({ key, messages: a.messages.size, trackers: a.trackers, removals: a.removals, kept: a.kept }))
    .sort(by === 'day' ? (a, b) => a.key.localeCompare(b.key) : (a, b) => b.removals - a.removals || b.trackers - a.trackers || a.key.localeCompare(b.key));
  const times = rows.map((r) => r.at).sort();
  return {
    since: period.since ?? null,
    until: period.until ?? null,
    firstEvent: times[0] ?? null,
    lastEvent: times.at(-1) ?? null,
    messages: messages.size,
    messagesWithTrackers: withTrackers.size,
    trackers,
    removals,
    kept,
    recipients: { ...recipients, share: recipients.total ? recipients.withConsent / recipients.total : null },
    by,
    groups: groupList,
    topSenders: ranked(senders),
    topMailers: ranked(mailers),
    topVendors: ranked(vendors),
    daily: [...daily.entries()]
      .map(([k, removals]) => {
        const [day, vendor] = k.split('\u0000') as [string, string];
        return { day, vendor, removals };
      })
      .sort((a, b) => a.day.localeCompare(b.day) || a.vendor.localeCompare(b.vendor)),
    rulesVersions: [...versions.entries()]
      .map(([v, e]) => ({ version: v, firstSeen: e.firstSeen, lastSeen: e.lastSeen, messages: e.messages.size, starts: e.starts }))
      .sort((a, b) => a.firstSeen.localeCompare(b.firstSeen)),
    starts,
  };
}
