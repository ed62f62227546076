/**
 * Retention per kind of data (config `retention.*`): what `consent-relay maintenance purge` and
 * the serving relay's daily purge delete. 0 keeps a kind forever.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { AuditLog } from '../audit/log.js';
import type { ConsentStore } from '../consent/store.js';

export interface RetentionConfig {
  readonly consentHistory: number;
  readonly auditEvents: number;
  readonly addresses: number;
  readonly leftovers: number;
}

export interface PurgeResult {
  readonly consentEvents: number;
  readonly auditEvents: number;
  readonly addresses: number;
  readonly leftoverFiles: number;
}

const before = (now: number, ms: number): string | undefined => (ms > 0 ? new Date(now - ms).toISOString() : undefined);

export async function purgeExpired(
  stores: { consent: ConsentStore; audit: AuditLog; dataDir: string; skipIncoming?: boolean },
  retention: RetentionConfig,
  now: number = Date.now(),
): Promise<PurgeResult> {
  const consentHistoryBefore = before(now, retention.consentHistory);
  const c = await stores.consent.purge(consentHistoryBefore === undefined ? {} : { consentHistoryBefore });
  const eventsBefore = before(now, retention.auditEvents);
  const addressesUnusedSince = before(now, retention.addresses);
  const a = await stores.audit.purge({ ...(eventsBefore === undefined ? {} : { eventsBefore }), ...(addressesUnusedSince === undefined ? {} : { addressesUnusedSince }) });
  let leftoverFiles = 0;
  if (retention.leftovers > 0) {
    const cutoff = now - retention.leftovers;
    // crash leftovers only: temporary files of the spool (never an entry the relay still owes)
    // and, when the relay is not running, files in incoming/ (which it empties at start anyway)
    leftoverFiles += await removeOld(join(stores.dataDir, 'spool'), cutoff, (n) => n.startsWith('.tmp-'));
    if (!stores.skipIncoming) leftoverFiles += await removeOld(join(stores.dataDir, 'incoming'), cutoff, () => true);
  }
  return { consentEvents: c.consentEvents, auditEvents: a.events, addresses: a.addresses, leftoverFiles };
}

async function removeOld(dir: string, cutoff: number, pick: (name: string) => boolean): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    if (!pick(name)) continue;
    const file = join(dir, name);
    try {
      if ((await stat(file)).mtimeMs < cutoff) {
        await rm(file, { force: true, recursive: true });
        n++;
      }
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

export function purgeText(r: PurgeResult): string {
  return `purged: ${r.consentEvents} consent event(s), ${r.auditEvents} audit event(s), ${r.addresses} address(es) behind audit pseudonyms, ${r.leftoverFiles} leftover file(s)\n`;
}

/**
 * The serving relay's purge: first one purgeInterval after start, then every purgeInterval.
 * Failures are logged and retried next time; nothing here touches mail in flight.
 */
export function startPurgeTimer(opts: {
  readonly intervalMs: number;
  readonly run: () => Promise<PurgeResult>;
  readonly onResult: (r: PurgeResult) => void;
  readonly onError: (err: unknown) => void;
}): { stop(): Promise<void> } {
  if (opts.intervalMs <= 0) return { stop: async () => undefined };
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = opts
      .run()
      .then(opts.onResult, opts.onError)
      .finally(() => {
        running = null;
      });
  }, opts.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
