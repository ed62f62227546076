/**
 * `consent-relay audit list`: rows of the audit log (`<dataDir>/audit.db`) as a table, CSV or
 * JSON. Read-only: a data directory without an audit log is reported, not given an empty one
 * (and no audit key is made for it).
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CHECKPOINT_KEY_FILE, checkCheckpoint, formatCheckpoint, loadCheckpointSigner, parseCheckpoint, parsePublicKey, publicKeyPem } from '../../audit/checkpoint.js';
import { renderHtmlReport } from '../../audit/html.js';
import { summarise, type ReportDimension, type ReportFormat } from '../../audit/summary.js';
import { summaryCsv, summaryJson, summaryTable } from '../../audit/summaryFormat.js';
import { formatChainReport } from '../../audit/verify.js';
import type { ChainReport, CheckpointClaim } from '../../audit/verify.js';
import { AUDIT_KEY_FILE } from '../../audit/keys.js';
import type { AuditQuery } from '../../audit/log.js';
import { formatAudit, type AuditFormat } from '../../audit/report.js';
import { AUDIT_DB_FILE, SqliteAuditLog } from '../../audit/sqlite.js';
import type { Config } from '../../config/schema.js';
import { ERRORS, RelayError } from '../../errors.js';
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

export interface AuditVerifyOptions {
  /** A checkpoint file printed by `audit checkpoint`. */
  readonly checkpoint?: string;
  /** The Ed25519 public key (PEM) the checkpoint must be signed with; default the data directory's. */
  readonly publicKey?: string;
  readonly json?: boolean;
}

/**
 * `consent-relay audit verify`: every MAC and link, and the checkpoint if given. Exit 0 when all
 * holds, AUDIT_TAMPERED's status (65) when anything does not, with one line per problem.
 */
export async function auditVerifyCommand(config: Config, opts: AuditVerifyOptions): Promise<number> {
  const db = join(config.dataDir, AUDIT_DB_FILE);
  if (!checkDataDir(config.dataDir, { create: false }) || !existsSync(db)) {
    throw new RelayError('AUDIT_UNAVAILABLE', `no audit log at ${db} (check --data-dir or dataDir in --config)`);
  }
  const checkpointProblems: string[] = [];
  let claim: CheckpointClaim | undefined;
  if (opts.checkpoint !== undefined) {
    const cp = parseCheckpoint(readInput(opts.checkpoint), opts.checkpoint);
    const trusted = opts.publicKey !== undefined ? parsePublicKey(readInput(opts.publicKey)) : existingSignerKey(config.dataDir);
    const { signatureValid, trustedKey } = checkCheckpoint(cp, trusted);
    if (!signatureValid) checkpointProblems.push(`checkpoint ${opts.checkpoint}: the signature does not match its content (the checkpoint was altered)`);
    if (trustedKey === false) checkpointProblems.push(`checkpoint ${opts.checkpoint}: signed by a key other than ${opts.publicKey ?? "this data directory's checkpoint key"}`);
    claim = { count: cp.count, head: cp.head, at: cp.at };
  }
  const log = openAuditLog(config);
  let report: ChainReport;
  try {
    report = await log.verify(claim);
  } finally {
    await log.close();
  }
  const ok = report.ok && checkpointProblems.length === 0;
  if (opts.json) {
    await writeStdout(`${JSON.stringify({ ...report, ok, checkpointProblems }, null, 2)}\n`);
  } else {
    let text = formatChainReport(report);
    if (checkpointProblems.length) text = `${ok ? '' : report.ok ? 'audit chain FAILED: the checkpoint does not hold\n' : ''}${text}${checkpointProblems.map((p) => `  checkpoint: ${p}\n`).join('')}`;
    await writeStdout(text);
  }
  return ok ? 0 : ERRORS.AUDIT_TAMPERED.exit;
}

/**
 * `consent-relay audit checkpoint`: the signed statement of the chain's head, on stdout; with
 * `publicKey`, the signer's public key (PEM) instead.
 */
export async function auditCheckpointCommand(config: Config, opts: { readonly publicKey?: boolean }): Promise<number> {
  const db = join(config.dataDir, AUDIT_DB_FILE);
  if (!checkDataDir(config.dataDir, { create: false }) || !existsSync(db)) {
    throw new RelayError('AUDIT_UNAVAILABLE', `no audit log at ${db} (check --data-dir or dataDir in --config)`);
  }
  const signer = loadCheckpointSigner(config.dataDir);
  if (opts.publicKey) {
    await writeStdout(publicKeyPem(signer.publicKey));
    return 0;
  }
  const log = openAuditLog(config);
  try {
    // a checkpoint of a broken chain would vouch for the damage: refuse
    const report = await log.verify();
    if (!report.ok) {
      throw new RelayError(
        'AUDIT_TAMPERED',
        `the audit chain does not verify (${report.problems.length} problem(s), first: ${report.problems[0]?.message ?? '?'}); run "consent-relay audit verify" and investigate before cutting a checkpoint`,
      );
    }
    await writeStdout(formatCheckpoint(signer.sign(report.head)));
  } finally {
    await log.close();
  }
  return 0;
}

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RelayError('INPUT_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The data directory's checkpoint public key, if it has one (never creates one). */
function existingSignerKey(dataDir: string): KeyObject | null {
  return existsSync(join(dataDir, CHECKPOINT_KEY_FILE)) ? loadCheckpointSigner(dataDir).publicKey : null;
}

export interface AuditReportOptions {
  readonly by: ReportDimension;
  readonly format: ReportFormat;
  readonly since?: string;
  readonly until?: string;
  /** Rows in the "top" lists (default 10). */
  readonly top?: number;
}

/** `consent-relay audit report`: figures of a period (summary.ts), with the chain's status in html and json. */
export async function auditReportCommand(config: Config, opts: AuditReportOptions): Promise<number> {
  const db = join(config.dataDir, AUDIT_DB_FILE);
  if (!checkDataDir(config.dataDir, { create: false }) || !existsSync(db)) {
    throw new RelayError('AUDIT_UNAVAILABLE', `no audit log at ${db} (check --data-dir or dataDir in --config)`);
  }
  const period = { ...(opts.since === undefined ? {} : { since: opts.since }), ...(opts.until === undefined ? {} : { until: opts.until }) };
  const log = openAuditLog(config);
  try {
    const summary = summarise(await log.list(period), opts.by, period, opts.top ?? 10);
    switch (opts.format) {
      case 'table':
        await writeStdout(summaryTable(summary));
        break;
      case 'csv':
        await writeStdout(summaryCsv(summary));
        break;
      case 'json': {
        const chain = await log.verify();
        await writeStdout(summaryJson(summary, { chain: { ok: chain.ok, events: chain.events, head: chain.head, problems: chain.problems } }));
        break;
      }
      case 'html':
        await writeStdout(renderHtmlReport({ summary, chain: await log.verify(), generatedAt: new Date().toISOString() }));
        break;
    }
  } finally {
    await log.close();
  }
  return 0;
}
