/**
 * The data-subject commands (GDPR arts. 15-17 and 21) as plain functions over the stores: what
 * `consent-relay subject export|erase|object|rectify` do, testable without a process.
 *
 * Each request is recorded in the audit log as a `subject-request` event. An erasure's event
 * names no one (the point of erasing is that nothing links to the person any more) and its
 * receipt holds counts and an id, never an address.
 */
import { randomBytes } from 'node:crypto';

import type { AuditLog, AuditRow } from '../audit/log.js';
import { consentChangedEvent } from '../audit/consent.js';
import type { SubjectRequestEvent } from '../audit/events.js';
import { validateAddress } from '../consent/address.js';
import type { ConsentEvent, ConsentState, ConsentStore, Objection } from '../consent/store.js';
import { oneLine, textTable } from '../store/table.js';

/** The other places an address is kept (web links, the spool), when the relay has them. */
export interface SubjectPlaces {
  /** Link subjects of the HTTP side (web.db). */
  readonly links?: { forget(address: string): number; rectify(from: string, to: string): number };
  /** Spool entries waiting for this recipient (counted, not changed: the mail is owed to them). */
  readonly spooled?: (address: string) => Promise<number>;
}

export interface RetentionView {
  readonly consentHistory: number;
  readonly auditEvents: number;
  readonly addresses: number;
  readonly leftovers: number;
}

export interface SubjectExport {
  readonly address: string;
  readonly generatedAt: string;
  readonly consent: {
    readonly current: { readonly opens: boolean; readonly clicks: boolean };
    readonly history: readonly Omit<ConsentEvent, 'id'>[];
    readonly domainHistory: readonly Omit<ConsentEvent, 'id'>[];
  };
  readonly doNotContact: Objection | null;
  /** Every audit event about mail to them (and about their consent and requests). */
  readonly auditEvents: readonly AuditRow[];
  readonly spooledCopies: number;
  readonly retention: Readonly<Record<string, string>>;
  readonly receipt: string;
}

const receiptId = (prefix: string): string => `${prefix}-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(5).toString('hex')}`;

function requestEvent(request: SubjectRequestEvent['request'], receipt: string, hashes: readonly string[], counts: Record<string, number>): SubjectRequestEvent {
  return { type: 'subject-request', at: new Date().toISOString(), queueId: '', consentClass: '', recipientHashes: [...hashes], request, receipt, counts };
}

const days = (ms: number): string => (ms === 0 ? 'kept until erased' : `${Math.round(ms / 86_400_000)} days`);

/** Art. 15: everything held about the address. Recording the request creates no pseudonym for an unknown address. */
export async function exportSubject(consent: ConsentStore, audit: AuditLog, address: string, retention: RetentionView, places: SubjectPlaces = {}): Promise<SubjectExport> {
  const a = validateAddress(address);
  const state: ConsentState = await consent.show(a);
  const objection = await consent.objection(a);
  const hash = audit.subjectHash(a);
  const auditEvents = hash === null ? [] : await audit.list({ recipient: a });
  const spooledCopies = places.spooled ? await places.spooled(a) : 0;
  const receipt = receiptId('X');
  await audit.append([requestEvent('export', receipt, hash === null ? [] : [hash], { consentEvents: state.history.length, auditEvents: auditEvents.length })]);
  const strip = (e: ConsentEvent): Omit<ConsentEvent, 'id'> => {
    const { id: _id, ...rest } = e;
    return rest;
  };
  return {
    address: a,
    generatedAt: new Date().toISOString(),
    consent: { current: { opens: state.consent.opens, clicks: state.consent.clicks }, history: state.history.map(strip), domainHistory: state.domainHistory.map(strip) },
    doNotContact: objection,
    auditEvents,
    spooledCopies,
    retention: {
      consentHistory: `${days(retention.consentHistory)} after the latest consent event, once nothing in it is in force`,
      auditEvents: days(retention.auditEvents),
      address: `${days(retention.addresses)} after the last audit event about mail to this address; the events themselves stay, no longer linked`,
      doNotContact: 'kept while the objection stands (after erasure, as a keyed hash only)',
      spoolLeftovers: days(retention.leftovers),
    },
    receipt,
  };
}

/** The same export as a report a person can read. */
export function subjectReport(x: SubjectExport): string {
  const out: string[] = [];
  out.push(`Data held about ${x.address}`, `generated ${x.generatedAt} (request ${x.receipt})`, '');
  out.push('Consent to tracking');
  out.push(`  now: opens ${x.consent.current.opens ? 'yes' : 'no'}, clicks ${x.consent.current.clicks ? 'yes' : 'no'}`);
  const consentRows = (events: readonly Omit<ConsentEvent, 'id'>[]): string =>
    textTable(
      ['when', 'what', 'scopes', 'until', 'source', 'how', 'wording'],
      events.map((e) => [e.at, e.action, e.scopes.join(','), e.until ?? '-', e.source, e.importLine === null ? e.method : `${e.method}, line ${e.importLine}`, e.wordingVersion ?? '-']),
    )
      .split('\n')
      .map((l) => (l ? `    ${l}` : l))
      .join('\n');
  if (!x.consent.history.length && !x.consent.domainHistory.length) out.push('  no consent records (no record means no consent)');
  if (x.consent.history.length) out.push('  history:', consentRows(x.consent.history).trimEnd());
  if (x.consent.domainHistory.length) out.push('  records for the whole domain that apply too:', consentRows(x.consent.domainHistory).trimEnd());
  out.push('', 'Do not contact');
  out.push(x.doNotContact ? `  yes, since ${x.doNotContact.at} (${oneLine(x.doNotContact.source)}): the relay refuses mail to this address` : '  no objection recorded');
  out.push('', `Mail to this address (${x.auditEvents.length} audit event${x.auditEvents.length === 1 ? '' : 's'})`);
  if (!x.auditEvents.length) out.push('  none recorded');
  const removed = x.auditEvents.filter((r) => r.type === 'finding' && r.action !== 'keep');
  const vendors = [...new Set(removed.map((r) => (r.type === 'finding' ? (r.vendor ?? 'unknown vendor') : '')))].sort();
  if (removed.length) out.push(`  trackers removed: ${removed.reduce((n, r) => n + (r.type === 'finding' ? (r.count ?? 1) : 0), 0)}, vendors: ${vendors.join(', ')}`);
  for (const r of x.auditEvents) out.push(`  ${r.at}  ${r.type.padEnd(20)} ${oneLine(describe(r))}`);
  out.push('', `Copies waiting in the spool: ${x.spooledCopies}`);
  out.push('', 'How long it is kept');
  for (const [k, v] of Object.entries(x.retention)) out.push(`  ${k}: ${v}`);
  return `${out.join('\n')}\n`;
}

function describe(r: AuditRow): string {
  switch (r.type) {
    case 'finding':
      return `${r.action} ${r.technique} ${r.vendor ?? 'unknown vendor'} ${r.redactedUrl}${r.count && r.count > 1 ? ` (x${r.count})` : ''} (message ${r.queueId})`;
    case 'relayed':
      return `delivered, message ${r.queueId} from ${r.sender || '<>'}`;
    case 'consent-changed':
      return `consent ${r.action} ${r.scopes.join(',')} via ${r.method}`;
    case 'subject-request':
      return `request: ${r.request}`;
    default:
      return `message ${r.queueId}`;
  }
}

export interface ErasureReceipt {
  readonly receipt: string;
  readonly at: string;
  readonly consentEventsDeleted: number;
  readonly auditEventsUnlinked: number;
  readonly suppressionKeptAsHash: boolean;
  readonly linkSubjectsDeleted: number;
  readonly spooledCopies: number;
}

/**
 * Art. 17: delete the person's consent history and every place their address is kept; audit
 * events stay (counted, in the chain) but lose the link to them. An objection stays as a keyed
 * hash so they are not contacted again.
 */
export async function eraseSubject(consent: ConsentStore, audit: AuditLog, address: string, places: SubjectPlaces = {}): Promise<ErasureReceipt> {
  const a = validateAddress(address);
  const spooledCopies = places.spooled ? await places.spooled(a) : 0;
  const c = await consent.erase(a);
  const f = await audit.forget(a);
  const links = places.links ? places.links.forget(a) : 0;
  const receipt = receiptId('E');
  const counts = { consentEvents: c.consentEvents, auditEventsUnlinked: f.events, linkSubjects: links, suppressionKept: c.suppressionKept ? 1 : 0 };
  await audit.append([requestEvent('erase', receipt, [], counts)]);
  return {
    receipt,
    at: new Date().toISOString(),
    consentEventsDeleted: c.consentEvents,
    auditEventsUnlinked: f.events,
    suppressionKeptAsHash: c.suppressionKept,
    linkSubjectsDeleted: links,
    spooledCopies,
  };
}

export function erasureReceiptText(r: ErasureReceipt): string {
  return [
    `erasure receipt ${r.receipt} (${r.at})`,
    `  consent events deleted:        ${r.consentEventsDeleted}`,
    `  audit events unlinked:         ${r.auditEventsUnlinked} (kept and counted; the chain still verifies)`,
    `  web link records deleted:      ${r.linkSubjectsDeleted}`,
    `  do-not-contact kept as a hash: ${r.suppressionKeptAsHash ? 'yes (the person objected to contact)' : 'no'}`,
    `  copies still in the spool:     ${r.spooledCopies}`,
    '',
  ].join('\n');
}

/** Art. 21: do not contact. Also withdraws every consent scope (objecting to contact covers tracking). */
export async function objectSubject(consent: ConsentStore, audit: AuditLog, address: string, opts: { source: string; recordedBy: string }): Promise<{ objection: Objection; receipt: string }> {
  const a = validateAddress(address);
  const objection = await consent.object(a, opts.source, opts.recordedBy);
  const withdrawal = await consent.record({ address: a, action: 'withdraw', scopes: ['opens', 'clicks'], source: `objection: ${opts.source}`, method: 'subject-object', recordedBy: opts.recordedBy });
  const receipt = receiptId('O');
  const hash = audit.recipientHash(a);
  await audit.append([consentChangedEvent(withdrawal, () => hash), requestEvent('object', receipt, [hash], {})], [a]);
  return { objection, receipt };
}

/** Art. 16: the address changed; consent history, objection, audit pseudonym and web links follow it. */
export async function rectifySubject(
  consent: ConsentStore,
  audit: AuditLog,
  from: string,
  to: string,
  places: SubjectPlaces = {},
): Promise<{ receipt: string; consentEventsMoved: number; auditHistoryMoved: boolean; linkSubjectsMoved: number }> {
  const a = validateAddress(from);
  const b = validateAddress(to);
  // the audit side refuses when the new address already has history: check it before moving anything
  const moved = await audit.rectify(a, b);
  const consentEventsMoved = await consent.rectify(a, b);
  const linkSubjectsMoved = places.links ? places.links.rectify(a, b) : 0;
  const receipt = receiptId('R');
  const hash = audit.subjectHash(b);
  await audit.append([requestEvent('rectify', receipt, hash === null ? [] : [hash], { consentEvents: consentEventsMoved, linkSubjects: linkSubjectsMoved })]);
  return { receipt, consentEventsMoved, auditHistoryMoved: moved, linkSubjectsMoved };
}
