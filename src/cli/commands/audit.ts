/**
 * `consent-relay audit list`: rows of the audit log (`<dataDir>/audit.db`) as a table, CSV or
 * JSON. Read-only: a data directory without an audit log is reported, not given an empty one
 * (and no audit key is made for it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { AUDIT_KEY_FILE } from '../../audit/keys.js';
import type { AuditQuery } from '../../audit/log.js';
import { formatAudit, type AuditFormat } from '../../audit/report.js';
import { AUDIT_DB_FILE, SqliteAuditLog } from '../../audit/sqlite.js';
import type { Config } from '../../config/schema.js';
import { RelayError } from '../../errors.js';
import { checkDataDir } from '../../store/dataDir.js';
import { writeStdout } from '../io.js';

/** The audit log's own query (since/until as ISO-8601), plus how to print the rows. */
export interface AuditListOptions extends AuditQuery {
  readonly format: AuditFormat;
}

export async function auditListCommand(config: Config, opts: AuditListOptions): Promise<number> {
  const db = join(config.dataDir, AUDIT_DB_FILE);
  if (!checkDataDir(config.dataDir, { create: false }) || !existsSync(db)) {
    process.stderr.write(`consent-relay: no audit log at ${db} yet (nothing relayed with this data directory; check --data-dir or dataDir in --config)\n`);
    await writeStdout(formatAudit([], opts.format));
    return 0;
  }
  const query: AuditQuery = {
    ...(opts.since === undefined ? {} : { since: opts.since }),
    ...(opts.until === undefined ? {} : { until: opts.until }),
    ...(opts.recipient === undefined ? {} : { recipient: opts.recipient }),
    ...(opts.sender === undefined ? {} : { sender: opts.sender }),
    ...(opts.type === undefined ? {} : { type: opts.type }),
    ...(opts.queueId === undefined ? {} : { queueId: opts.queueId }),
    ...(opts.limit === undefined ? {} : { limit: opts.limit }),
  };
  const log = openAuditLog(config);
  try {
    await writeStdout(formatAudit(await log.list(query), opts.format));
  } finally {
    await log.close();
  }
  return 0;
}

/**
 * The audit log for a command, created if there is none yet; but a log whose key is missing is
 * refused: a new key would make every recipient hash in it unmatchable.
 */
export function openAuditLog(config: Config): SqliteAuditLog {
  const db = join(config.dataDir, AUDIT_DB_FILE);
  const key = join(config.dataDir, AUDIT_KEY_FILE);
  if (existsSync(db) && !existsSync(key)) {
    throw new RelayError('AUDIT_UNAVAILABLE', `audit key ${key} is missing but ${db} exists: restore the key from the backup of the audit log`);
  }
  return new SqliteAuditLog(config.dataDir);
}
