/**
 * Consent changes as chained audit events: the consent store keeps the evidence (and can erase
 * it); the audit chain keeps that a change happened, to whom (keyed hash), what and how.
 */
import type { ConsentEvent } from '../consent/store.js';
import type { ConsentChangedEvent } from './events.js';
import type { AuditLog } from './log.js';

/** A domain-level record ("@customer.example") names no person: it is chained with its domain. */
export function consentChangedEvent(e: ConsentEvent, hash: (address: string) => string): ConsentChangedEvent {
  const domain = e.address.startsWith('@') ? e.address.slice(1) : undefined;
  return {
    type: 'consent-changed',
    at: new Date().toISOString(),
    queueId: '',
    consentClass: '',
    recipientHashes: domain === undefined ? [hash(e.address)] : [],
    action: e.action,
    scopes: [...e.scopes],
    method: e.method,
    consentEventId: e.id,
    until: e.until,
    ...(domain === undefined ? {} : { domain }),
    ...(e.wordingVersion ? { wordingVersion: e.wordingVersion } : {}),
    ...(e.wordingSha256 ? { wordingSha256: e.wordingSha256 } : {}),
  };
}

/** Append one chained event per consent event, with the addresses in the (erasable) subjects table. */
export async function auditConsentChanges(log: AuditLog, events: readonly ConsentEvent[]): Promise<void> {
  if (!events.length) return;
  await log.append(
    events.map((e) => consentChangedEvent(e, (a) => log.recipientHash(a))),
    events.filter((e) => !e.address.startsWith('@')).map((e) => e.address),
  );
}
