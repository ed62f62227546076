/**
 * A withdrawal reaches copies already waiting in the spool. Before each attempt the spool worker
 * asks this stage: the entry's recipients' consent is looked up again, and a recipient whose
 * consent is now less than the copy was filtered for (a withdrawal, an expiry, a domain record)
 * gets the copy run through the engine again under what is left (the old class ∧ the new
 * consent), as a spool entry of its own, with a `spool-refiltered` audit event written before it
 * can leave. The engine only removes: filtering the already-filtered copy under less consent
 * removes what the new consent does not allow and keeps every other byte.
 *
 * Fail closed: if the store, the engine or the audit log fails, the entry is left as it is and
 * not attempted now (the worker retries it at its next scan).
 */
import type { ConsentStore } from '../consent/store.js';
import type { Spool, SpoolMessage } from '../delivery/spool.js';
import { segmentsCanonical } from '../segments.js';
import { RelayError } from '../errors.js';
import { consentClass, type Consent } from '../rewrite/types.js';
import type { AuditRecorder } from './audit.js';
import type { RelayDeps } from './relay.js';

export type Refilter = (msg: SpoolMessage) => Promise<SpoolMessage | null>;

export function spoolRefilter(deps: Pick<RelayDeps, 'engine' | 'rules' | 'limits' | 'policy' | 'mode'> & { consent: ConsentStore; spool: Spool; audit: AuditRecorder }): Refilter {
  return async (msg) => {
    const was = parseClass(msg.meta.consentClass);
    // DSNs carry no trackers of ours; monitor mode sends originals on purpose; no consent left to lose
    if (was === null || deps.mode === 'monitor' || (!was.opens && !was.clicks)) return msg;
    const now = await deps.consent.lookup(msg.meta.envelope.to);
    const groups = new Map<string, { consent: Consent; to: string[] }>();
    for (const r of msg.meta.envelope.to) {
      const c = now.get(r.trim().toLowerCase()) ?? { opens: false, clicks: false };
      const left = { opens: was.opens && c.opens, clicks: was.clicks && c.clicks };
      const key = consentClass(left);
      const g = groups.get(key) ?? { consent: left, to: [] };
      g.to.push(r);
      groups.set(key, g);
    }
    if (groups.size === 1 && groups.has(msg.meta.consentClass)) return msg;
    for (const [key, g] of groups) {
      if (key === msg.meta.consentClass) continue;
      const result = await deps.engine([msg.raw], { consent: g.consent, rules: deps.rules, recipients: g.to, limits: deps.limits, policy: deps.policy });
      if (!result || !Array.isArray(result.output) || !(await segmentsCanonical(result.output)))
        throw new RelayError('FILTER_FAILED', 'engine returned no canonical message while re-filtering a spooled copy');
      const meta = { ...msg.meta, envelope: { from: msg.meta.envelope.from, to: g.to }, consentClass: key, failures: msg.meta.failures.filter((f) => g.to.includes(f.recipient)) };
      const id = await deps.spool.enqueue(meta, result.output);
      // on record before the copy can leave (the worker attempts it at its next scan)
      await deps.audit.record(
        [
          {
            type: 'spool-refiltered',
            at: new Date().toISOString(),
            queueId: msg.meta.queueId ?? msg.id,
            consentClass: key,
            recipientHashes: g.to.map((a) => deps.audit.recipientHash(a)),
            spoolId: id,
            previousClass: msg.meta.consentClass,
            findingCount: result.findings.length,
          },
        ],
        g.to,
      );
    }
    const keep = groups.get(msg.meta.consentClass)?.to ?? [];
    if (!keep.length) {
      await deps.spool.remove(msg.id);
      return null;
    }
    const meta = { ...msg.meta, envelope: { from: msg.meta.envelope.from, to: keep }, failures: msg.meta.failures.filter((f) => keep.includes(f.recipient)) };
    await deps.spool.update(msg.id, meta);
    return { ...msg, meta };
  };
}

/** "opens,clicks" → consent; null for a class that is not a consent class (dsn). */
function parseClass(key: string): Consent | null {
  const parts = key ? key.split(',') : [];
  if (parts.some((p) => p !== 'opens' && p !== 'clicks')) return null;
  return { opens: parts.includes('opens'), clicks: parts.includes('clicks') };
}
