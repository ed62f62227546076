/**
 * `consent-relay subject export|erase|object|rectify` and `maintenance purge`: the data-subject
 * commands (src/rights/) over the stores in the data directory.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

import { SqliteAuditLog } from '../../audit/sqlite.js';
import type { Config } from '../../config/schema.js';
import { validateAddress } from '../../consent/address.js';
import { SqliteConsentStore } from '../../consent/sqlite.js';
import { Spool } from '../../delivery/spool.js';
import { RelayError } from '../../errors.js';
import { purgeExpired, purgeText } from '../../rights/retention.js';
import { eraseSubject, erasureReceiptText, exportSubject, objectSubject, rectifySubject, subjectReport, type SubjectPlaces } from '../../rights/subject.js';
import { LinkSubjects, WEB_DB_FILE } from '../../web/subjects.js';
import { writeStdout } from '../io.js';

async function withStores<T>(config: Config, fn: (consent: SqliteConsentStore, audit: SqliteAuditLog, places: SubjectPlaces) => Promise<T>): Promise<T> {
  const consent = new SqliteConsentStore(config.dataDir);
  let audit: SqliteAuditLog | undefined;
  let links: LinkSubjects | undefined;
  try {
    audit = new SqliteAuditLog(config.dataDir);
    // web.db only where the HTTP side ever made a link: a subject command must not create it
    if (existsSync(join(config.dataDir, WEB_DB_FILE))) links = new LinkSubjects(config.dataDir);
    const spool = new Spool(config.dataDir);
    const places: SubjectPlaces = {
      ...(links ? { links } : {}),
      spooled: async (address) => (await spool.list()).filter((e) => e.meta.envelope.to.some((t) => t.trim().toLowerCase() === address)).length,
    };
    return await fn(consent, audit, places);
  } finally {
    links?.close();
    await audit?.close();
    await consent.close();
  }
}

export async function subjectExportCommand(config: Config, opts: { readonly address: string; readonly format: 'text' | 'json' }): Promise<number> {
  validateAddress(opts.address);
  const x = await withStores(config, (c, a, p) => exportSubject(c, a, opts.address, config.retention, p));
  await writeStdout(opts.format === 'json' ? `${JSON.stringify(x, null, 2)}\n` : subjectReport(x));
  return 0;
}

export async function subjectEraseCommand(config: Config, opts: { readonly address: string; readonly yes: boolean }): Promise<number> {
  validateAddress(opts.address);
  if (!opts.yes) throw new RelayError('USAGE', 'erasure cannot be undone; add --yes to confirm');
  const r = await withStores(config, (c, a, p) => eraseSubject(c, a, opts.address, p));
  await writeStdout(erasureReceiptText(r));
  return 0;
}

export async function subjectObjectCommand(config: Config, opts: { readonly address: string; readonly source?: string; readonly by?: string }): Promise<number> {
  validateAddress(opts.address);
  const r = await withStores(config, (c, a) => objectSubject(c, a, opts.address, { source: opts.source?.trim() || 'objection to contact', recordedBy: opts.by ?? currentUser() }));
  const mode = config.rights.doNotContact.mode;
  await writeStdout(
    `do-not-contact recorded (receipt ${r.receipt}, since ${r.objection.at}); consent to tracking withdrawn; the relay ${mode === 'reject' ? 'refuses this recipient at RCPT with 550 5.7.1' : 'accepts this recipient and records it (warn mode)'}\n`,
  );
  return 0;
}

export async function subjectRectifyCommand(config: Config, opts: { readonly from: string; readonly to: string }): Promise<number> {
  validateAddress(opts.from);
  validateAddress(opts.to);
  const r = await withStores(config, (c, a, p) => rectifySubject(c, a, opts.from, opts.to, p));
  await writeStdout(
    `rectified (receipt ${r.receipt}): ${r.consentEventsMoved} consent event(s) and ${r.auditHistoryMoved ? 'the audit history' : 'no audit history'} now belong to the new address; ${r.linkSubjectsMoved} web link record(s) moved\n`,
  );
  return 0;
}

export async function maintenancePurgeCommand(config: Config): Promise<number> {
  const consent = new SqliteConsentStore(config.dataDir);
  try {
    const audit = new SqliteAuditLog(config.dataDir);
    try {
      await writeStdout(purgeText(await purgeExpired({ consent, audit, dataDir: config.dataDir }, config.retention)));
    } finally {
      await audit.close();
    }
  } finally {
    await consent.close();
  }
  return 0;
}

function currentUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}
