/**
 * `consent-relay consent grant|withdraw|show|list`: record and read consent in
 * `<dataDir>/consent.db`. The work is done by src/consent/commands.ts; these functions check the
 * options, open and close the store, and print one line per recorded event.
 *
 * Reading never creates a store: `show` and `list` on a data directory without consent.db report
 * that nothing is recorded (and say where they looked, in case --data-dir was wrong).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { Config } from '../../config/schema.js';
import { validateAddress } from '../../consent/address.js';
import { grantConsent, listConsent, showConsent, withdrawConsent } from '../../consent/commands.js';
import { CONSENT_DB_FILE, SqliteConsentStore } from '../../consent/sqlite.js';
import type { ConsentEvent, ConsentScope, ConsentState, ConsentStore } from '../../consent/store.js';
import { RelayError } from '../../errors.js';
import { NO_CONSENT } from '../../rewrite/types.js';
import { checkDataDir } from '../../store/dataDir.js';
import { oneLine } from '../../store/table.js';
import { writeStdout } from '../io.js';

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
  validateAddress(opts.address);
  if (!opts.scopes || opts.scopes.length === 0) {
    throw new RelayError('USAGE', 'a grant needs --scope: what the person agreed to, e.g. --scope opens,clicks (or clicks, or all)');
  }
  const source = opts.source?.trim() ?? '';
  if (!source) {
    throw new RelayError('USAGE', 'a grant needs --source: where the consent came from, e.g. --source "signup form on example.com, 2026-10"');
  }
  const event = await withStore(config, (store) =>
    grantConsent(store, {
      address: opts.address,
      scopes: opts.scopes ?? [],
      source,
      evidence: opts.evidence ?? null,
      until: opts.until ?? null,
      ...(opts.by ? { recordedBy: opts.by } : {}),
    }),
  );
  await writeStdout(recorded(event));
  return 0;
}

export async function consentWithdrawCommand(config: Config, opts: ConsentWithdrawOptions): Promise<number> {
  validateAddress(opts.address);
  const event = await withStore(config, (store) =>
    withdrawConsent(store, {
      address: opts.address,
      ...(opts.scopes ? { scopes: opts.scopes } : {}),
      ...(opts.source?.trim() ? { source: opts.source } : {}),
      evidence: opts.evidence ?? null,
      ...(opts.by ? { recordedBy: opts.by } : {}),
    }),
  );
  await writeStdout(recorded(event));
  return 0;
}

export async function consentShowCommand(config: Config, opts: { readonly address: string }): Promise<number> {
  validateAddress(opts.address);
  await writeStdout(await withExistingStore(config, (store) => showConsent(store, opts.address)));
  return 0;
}

export async function consentListCommand(config: Config): Promise<number> {
  await writeStdout(await withExistingStore(config, (store) => listConsent(store)));
  return 0;
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
const EMPTY_STORE: ConsentStore = {
  lookup: async (addresses) => new Map(addresses.map((a) => [a.trim().toLowerCase(), NO_CONSENT])),
  record: async () => {
    throw new RelayError('CONSENT_STORE_UNAVAILABLE', 'the empty stand-in store cannot record');
  },
  show: async (address): Promise<ConsentState> => ({ address: validateAddress(address), consent: NO_CONSENT, history: [] }),
  list: async () => [],
  close: async () => undefined,
};
