/**
 * How consent records combine: backend-neutral, so the SQLite store and a later PostgreSQL one
 * answer the same.
 *
 * Two kinds of record apply to a mailbox: its own events and those of its domain ("@customer.example",
 * e.g. a customer's contract covering everyone there). Each is reduced per scope to one of three
 * states by its own history: the event with the latest `at` (then the highest id) naming the scope
 * decides; a grant in force is `granted`, a withdrawal is `refused`, an expired grant or no event
 * says nothing (`silent`). Then the least permissive applicable statement wins:
 *
 *   - any `refused` → no consent (an individual withdrawal always beats a domain grant, and a
 *     domain-wide withdrawal beats an individual grant);
 *   - otherwise any `granted` → consent;
 *   - otherwise → no consent (no record means no consent).
 *
 * An expired grant is silence rather than refusal: the period ended, the person did not say no,
 * so a domain grant still in force covers them.
 */
import { NO_CONSENT, type Consent } from '../rewrite/types.js';
import type { ConsentEvent, ConsentScope } from './store.js';

export type ScopeState = 'granted' | 'refused' | 'silent';

/** "alice@customer.example" → "@customer.example"; null for a domain key or an address without "@". */
export function domainKey(address: string): string | null {
  if (address.startsWith('@')) return null;
  const at = address.lastIndexOf('@');
  return at > 0 && at < address.length - 1 ? address.slice(at) : null;
}

export function isDomainKey(key: string): boolean {
  return key.startsWith('@');
}

/** One record's statement per scope; `events` ordered by (at, id). */
export function scopeStates(events: readonly ConsentEvent[], now: Date): Record<ConsentScope, ScopeState> {
  const decisive = new Map<ConsentScope, ConsentEvent>();
  for (const e of events) for (const s of e.scopes) decisive.set(s, e);
  const state = (s: ConsentScope): ScopeState => {
    const e = decisive.get(s);
    if (e === undefined) return 'silent';
    if (e.action === 'withdraw') return 'refused';
    return e.until === null || Date.parse(e.until) > now.getTime() ? 'granted' : 'silent';
  };
  return { opens: state('opens'), clicks: state('clicks') };
}

/** Consent from every applicable record's history (each ordered by (at, id)): the rule above. */
export function combineConsent(records: readonly (readonly ConsentEvent[])[], now: Date): Consent {
  const states = records.map((r) => scopeStates(r, now));
  const allowed = (s: ConsentScope): boolean => !states.some((st) => st[s] === 'refused') && states.some((st) => st[s] === 'granted');
  const c = { opens: allowed('opens'), clicks: allowed('clicks') };
  return c.opens || c.clicks ? Object.freeze(c) : NO_CONSENT;
}

/** Which record decided a scope, for reports: the latest applicable event naming it, own first on a tie. */
export function decidingEvents(own: readonly ConsentEvent[], domain: readonly ConsentEvent[], scope: ConsentScope): { own: ConsentEvent | null; domain: ConsentEvent | null } {
  const last = (events: readonly ConsentEvent[]): ConsentEvent | null => [...events].reverse().find((e) => e.scopes.includes(scope)) ?? null;
  return { own: last(own), domain: last(domain) };
}
