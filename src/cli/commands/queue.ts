/**
 * `consent-relay queue list|retry|drop`: the spool in `<dataDir>/spool`, through
 * src/delivery/queueCommands.ts. These work on the files, not on a running relay, which picks up a
 * `retry` at its next spool scan. The spool is not `open`ed: that sweeps temporary files, which
 * a running relay may be writing at that moment.
 */
import type { Config } from '../../config/schema.js';
import { dropQueue, listQueue, retryQueue } from '../../delivery/queueCommands.js';
import { Spool } from '../../delivery/spool.js';
import { RelayError } from '../../errors.js';
import { auditRecorder } from '../../pipeline/audit.js';
import { checkDataDir } from '../../store/dataDir.js';
import { writeStdout } from '../io.js';
import { openAuditLog } from './audit.js';

export async function queueListCommand(config: Config): Promise<number> {
  checkDataDir(config.dataDir, { create: false });
  await writeStdout(await listQueue(new Spool(config.dataDir)));
  return 0;
}

export async function queueRetryCommand(config: Config, opts: { readonly id: string }): Promise<number> {
  checkDataDir(config.dataDir, { create: false });
  const n = await retryQueue(new Spool(config.dataDir), opts.id);
  const scan = `a running relay retries at its next spool scan (every ${seconds(config.spool.scanInterval)})`;
  let text: string;
  if (opts.id === 'all') text = n === 0 ? 'queue is empty: nothing to retry\n' : `${n} entr${n === 1 ? 'y' : 'ies'} due now; ${scan}\n`;
  else text = n === 0 ? `entry ${opts.id} left the queue meanwhile (delivered or dropped)\n` : `entry ${opts.id} due now; ${scan}\n`;
  await writeStdout(text);
  return 0;
}

export async function queueDropCommand(config: Config, opts: { readonly id: string }): Promise<number> {
  checkDataDir(config.dataDir, { create: false });
  // opened first: a drop that cannot be recorded is not made
  const audit = auditRecorder(openAuditLog(config));
  try {
    const dropped = await dropQueue(new Spool(config.dataDir), opts.id);
    try {
      await audit.later([dropped]);
    } catch (err) {
      throw new RelayError('AUDIT_UNAVAILABLE', `dropped entry ${opts.id}, but the audit log did not record it: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  } finally {
    await audit.close();
  }
  await writeStdout(`dropped entry ${opts.id}: it will not be delivered and no bounce is sent (recorded in the audit log)\n`);
  return 0;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
