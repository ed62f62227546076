/**
 * `consent-relay consent grant|withdraw|show|list`: record and read consent in
 * `<dataDir>/consent.db`. The work is done by src/consent/commands.ts; these functions check the
 * options, open and close the store, and print one line per recorded event.
 *
 * Reading never creates a store: `show` and `list` on a data directory without consent.db report
 * that nothing is recorded (and say where they looked, in case --data-dir was wrong).
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

import type { Config } from '../../config/schema.js';
import { validateConsentKey } from '../../consent/address.js';
import { emptyConsentStore } from '../../consent/empty.js';
import { exportConsent, grantConsent, importConsent, listConsent, showConsent, withdrawConsent, wordingHash, type ExportFormat } from '../../consent/commands.js';
import { planImport } from '../../consent/import.js';
import { CONSENT_DB_FILE, SqliteConsentStore } from '../../consent/sqlite.js';
import type { ConsentEvent, ConsentScope, ConsentStore } from '../../consent/store.js';
import { RelayError } from '../../errors.js';
import { checkDataDir } from '../../store/dataDir.js';
import { oneLine } from '../../store/table.js';
import { auditConsentChanges } from '../../audit/consent.js';
import { readInput, writeStdout } from '../io.js';
import { openAuditLog } from './audit.js';

export interface ConsentGrantOptions {
  readonly address: string;
  /** Required: a grant names what was agreed to. */
  readonly scopes?: readonly ConsentScope[];
  /** Required: where the consent came from. */
  readonly source?: string;
  readonly evidence?: string;
  /** ISO-8601 time the grant lapses. */
  readonly until?: string;
  /** Who records it; default the operating-system user. */
  readonly by?: string;
  /** The version of the wording shown, and a file with its text (hashed) or the hash itself. */
  readonly wordingVersion?: string;
  readonly wordingFile?: string;
  readonly wordingSha256?: string;
}

export interface ConsentWithdrawOptions {
  readonly address: string;
  /** Default: every scope. */
  readonly scopes?: readonly ConsentScope[];
  readonly source?: string;
  readonly evidence?: string;
  readonly by?: string;
}

export async function consentGrantCommand(config: Config, opts: ConsentGrantOptions): Promise<number> {
  // check everything the command line can get wrong before a store is created for it
  validateConsentKey(opts.address);
  if (!opts.scopes || opts.scopes.length === 0) {
    throw new RelayError('USAGE', 'a grant needs --scope: what the person agreed to, e.g. --scope opens,clicks (or clicks, or all)');
  }
  const source = opts.source?.trim() ?? '';
  if (!source) {
    throw new RelayError('USAGE', 'a grant needs --source: where the consent came from, e.g. --source "signup form on example.com, 2026-10"');
  }
  const wording = await wordingOptions(opts);
  const event = await withStore(config, (store) =>
    grantConsent(store, {
      address: opts.address,
      scopes: opts.scopes ?? [],
      source,
      evidence: opts.evidence ?? null,
      until: opts.until ?? null,
      ...(opts.by ? { recordedBy: opts.by } : {}),
      ...wording,
    }),
  );
  await auditConsent(config, [event]);
  await writeStdout(recorded(event));
  return 0;
}

/** Every consent change is also a chained audit event (src/audit/README.md). */
export async function auditConsent(config: Config, events: readonly ConsentEvent[]): Promise<void> {
  const log = openAuditLog(config);
  try {
    await auditConsentChanges(log, events);
  } finally {
    await log.close();
  }
}

export async function consentWithdrawCommand(config: Config, opts: ConsentWithdrawOptions): Promise<number> {
  validateConsentKey(opts.address);
  const event = await withStore(config, (store) =>
    withdrawConsent(store, {
      address: opts.address,
      ...(opts.scopes ? { scopes: opts.scopes } : {}),
      ...(opts.source?.trim() ? { source: opts.source } : {}),
      evidence: opts.evidence ?? null,
      ...(opts.by ? { recordedBy: opts.by } : {}),
    }),
  );
  await auditConsent(config, [event]);
  await writeStdout(recorded(event));
  return 0;
}

export async function consentShowCommand(config: Config, opts: { readonly address: string }): Promise<number> {
  validateConsentKey(opts.address);
  await writeStdout(await withExistingStore(config, (store) => showConsent(store, opts.address)));
  return 0;
}

export async function consentListCommand(config: Config): Promise<number> {
  await writeStdout(await withExistingStore(config, (store) => listConsent(store)));
  return 0;
}

export interface ConsentImportOptions {
  readonly file: string;
  readonly dryRun: boolean;
  readonly scopes?: readonly ConsentScope[];
  readonly source?: string;
  readonly by?: string;
  readonly wordingVersion?: string;
  readonly wordingFile?: string;
  readonly wordingSha256?: string;
}

/** Exit 0 when recorded (or, dry run, all valid); 65 with every bad row's line on stdout otherwise. */
export async function consentImportCommand(config: Config, opts: ConsentImportOptions): Promise<number> {
  const bytes = await readInput(opts.file);
  const wording = await wordingOptions(opts);
  const plan = planImport({
    bytes,
    ...(opts.scopes ? { scopes: opts.scopes } : {}),
    ...(opts.source ? { source: opts.source } : {}),
    recordedBy: opts.by ?? currentUser(),
    ...(wording.wordingVersion ? { wordingVersion: wording.wordingVersion } : {}),
    ...(wording.wordingSha256 ? { wordingSha256: wording.wordingSha256 } : {}),
    now: new Date(),
  });
  // a dry run must not create a store; a real import with bad rows must not either
  const report = opts.dryRun || plan.problems.length ? await importConsent(EMPTY_STORE, plan, opts) : await withStore(config, (store) => importConsent(store, plan, opts));
  await auditConsent(config, report.recorded);
  await writeStdout(report.text);
  if (!report.ok) throw new RelayError('IMPORT_INVALID', `${opts.file}: ${plan.problems.length} bad row${plan.problems.length === 1 ? '' : 's'} (listed above); nothing recorded`);
  return 0;
}

export async function consentExportCommand(config: Config, opts: { readonly format: ExportFormat }): Promise<number> {
  await writeStdout(await withExistingStore(config, (store) => exportConsent(store, opts.format)));
  return 0;
}

async function wordingOptions(opts: {
  readonly wordingVersion?: string;
  readonly wordingFile?: string;
  readonly wordingSha256?: string;
}): Promise<{ wordingVersion?: string; wordingSha256?: string }> {
  if (opts.wordingFile && opts.wordingSha256) throw new RelayError('USAGE', 'give the wording as --wording-file or as --wording-sha256, not both');
  const sha = opts.wordingFile ? wordingHash(await readInput(opts.wordingFile)) : opts.wordingSha256?.trim().toLowerCase();
  if (sha && !opts.wordingVersion?.trim()) throw new RelayError('USAGE', 'a wording needs --wording-version: which version of the text the person saw, e.g. --wording-version "signup form v3"');
  if (sha && !/^[0-9a-f]{64}$/.test(sha)) throw new RelayError('USAGE', `--wording-sha256 must be 64 hex characters, not "${opts.wordingSha256 ?? ''}"`);
  return { ...(opts.wordingVersion?.trim() ? { wordingVersion: opts.wordingVersion.trim() } : {}), ...(sha ? { wordingSha256: sha } : {}) };
}

function currentUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

/** "granted opens,clicks for alice@example.org until … (source: …; event #3)" */
export function recorded(e: ConsentEvent): string {
  const verb = e.action === 'grant' ? 'granted' : 'withdrew';
  const until = e.until ? ` until ${e.until}` : '';
  const evidence = e.evidence ? `; evidence: ${e.evidence}` : '';
  return `${oneLine(`${verb} ${e.scopes.join(',')} for ${e.address}${until} (source: ${e.source}${evidence}; recorded by ${e.recordedBy}; event #${e.id})`)}\n`;
}

async function withStore<T>(config: Config, fn: (store: ConsentStore) => Promise<T>): Promise<T> {
  const store = new SqliteConsentStore(config.dataDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function withExistingStore<T>(config: Config, fn: (store: ConsentStore) => Promise<T>): Promise<T> {
  const file = join(config.dataDir, CONSENT_DB_FILE);
  checkDataDir(config.dataDir, { create: false });
  if (existsSync(file)) return withStore(config, fn);
  process.stderr.write(`consent-relay: no consent store at ${file} yet (nothing recorded with this data directory; check --data-dir or dataDir in --config)\n`);
  return fn(EMPTY_STORE);
}

/** Stands in for a store that does not exist yet: no records, which means no consent. */
const EMPTY_STORE: ConsentStore = emptyConsentStore();
