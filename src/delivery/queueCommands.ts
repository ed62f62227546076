import { RelayError } from '../errors.js';
import type { Disposition } from './dispositions.js';
import { oneLine } from './reply.js';
import type { Spool, SpoolEntry } from './spool.js';

/**
 * `consent-relay queue …`: plain functions over a Spool; the CLI wiring only parses arguments and
 * prints. They work on the spool directory, not on a running relay: a running worker notices a
 * `retry` at its next poll (pollIntervalMs). Nothing here prints recipients' addresses or bodies
 * beyond counts, so a listing can be pasted into a ticket.
 */

/** A fixed-width table: id, class, recipients, attempts, next attempt, last error. */
export async function listQueue(spool: Spool): Promise<string> {
  const entries = await spool.list();
  if (entries.length === 0) return 'queue is empty\n';
  const rows = entries.map(row);
  const head = ['ID', 'CLASS', 'RCPTS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[fmt(head), ...rows.map(fmt)].join('\n')}\n${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}\n`;
}

function row(e: SpoolEntry): string[] {
  const err = e.meta.lastError === null ? '-' : oneLine(e.meta.lastError);
  return [e.id, e.meta.consentClass || 'none', String(e.meta.envelope.to.length), String(e.meta.attempts), e.meta.nextAttemptAt, err.length > 80 ? `${err.slice(0, 77)}...` : err];
}

/** Make one entry (or all) due now. Returns how many entries were changed. */
export async function retryQueue(spool: Spool, id: string | 'all', now: () => number = Date.now): Promise<number> {
  const due = new Date(now()).toISOString();
  const targets = id === 'all' ? (await spool.list()).map((e) => e.id) : [id];
  let changed = 0;
  for (const target of targets) {
    const entry = await spool.get(target);
    if (entry === null) {
      if (id === 'all') continue; // delivered while we iterated
      throw new RelayError('USAGE', `no queue entry ${target} (delivered, dropped, or mistyped; see \`consent-relay queue list\`)`);
    }
    if (await spool.update(target, { ...entry.meta, nextAttemptAt: due })) changed += 1;
  }
  return changed;
}

/**
 * Delete an entry without delivering it or bouncing it, and say what was dropped (for the record:
 * a 'dropped' disposition). Throws USAGE if there is no such entry.
 */
export async function dropQueue(spool: Spool, id: string): Promise<Disposition & { type: 'dropped' }> {
  const entry = await spool.get(id);
  if (entry === null || !(await spool.remove(id))) throw new RelayError('USAGE', `no queue entry ${id} (delivered, dropped, or mistyped; see \`consent-relay queue list\`)`);
  const m = entry.meta;
  return { type: 'dropped', queueId: m.queueId ?? id, consentClass: m.consentClass, recipients: m.envelope.to, response: m.lastError ?? '', spoolId: id, attempt: m.attempts };
}
