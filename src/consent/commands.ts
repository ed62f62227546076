/**
 * The consent commands as plain functions: typed options in, an event or text out. The CLI only
 * parses arguments and prints; everything an operator can do is testable here without a process.
 *
 * Withdrawing is deliberately as easy as granting, or easier: no source, evidence or scopes are
 * required (the default is every scope), because a person's "stop" must never wait on paperwork.
 */
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';

import { RelayError } from '../errors.js';
import { consentClass } from '../rewrite/types.js';
import { oneLine, textTable } from '../store/table.js';
import { decidingEvents, domainKey } from './derive.js';
import { csvLine } from './csv.js';
import { EXPORT_COLUMNS, exportRow, type ImportPlan } from './import.js';
import { canonicalScopes } from './sqlite.js';
import { ALL_SCOPES } from './store.js';
import type { ConsentEvent, ConsentScope, ConsentState, ConsentStore } from './store.js';

export interface GrantOptions {
  readonly address: string;
  readonly scopes: readonly ConsentScope[];
  /** Where the consent came from; required for a grant. */
  readonly source: string;
  readonly evidence?: string | null;
  /** Defaults to the operating-system user running the command. */
  readonly recordedBy?: string;
  /** ISO-8601 date or time the grant lapses. */
  readonly until?: string | null;
  /** How it was recorded; default "cli". */
  readonly method?: string;
  /** When consent was given, if not now (imports). */
  readonly at?: string;
  /** The wording the person was shown: its version and the SHA-256 of its text (wordingHash()). */
  readonly wordingVersion?: string | null;
  readonly wordingSha256?: string | null;
}

export interface WithdrawOptions {
  readonly address: string;
  /** Default: every scope. */
  readonly scopes?: readonly ConsentScope[];
  /** Default "withdrawal". */
  readonly source?: string;
  readonly evidence?: string | null;
  readonly recordedBy?: string;
  readonly method?: string;
  readonly at?: string;
}

export async function grantConsent(store: ConsentStore, opts: GrantOptions): Promise<ConsentEvent> {
  return store.record({
    address: opts.address,
    action: 'grant',
    scopes: opts.scopes,
    source: opts.source,
    method: opts.method ?? 'cli',
    evidence: opts.evidence ?? null,
    recordedBy: opts.recordedBy ?? currentUser(),
    until: opts.until ?? null,
    wordingVersion: opts.wordingVersion ?? null,
    wordingSha256: opts.wordingSha256 ?? null,
    ...(opts.at === undefined ? {} : { at: opts.at }),
  });
}

/**
 * SHA-256 (hex) of the wording shown to the person, as kept by the operator. Line endings are
 * made LF first, so a copy saved on Windows hashes like the original.
 */
export function wordingHash(text: string | Buffer): string {
  const t = (typeof text === 'string' ? text : text.toString('utf8')).replace(/\r\n?/g, '\n');
  return createHash('sha256').update(t, 'utf8').digest('hex');
}

export async function withdrawConsent(store: ConsentStore, opts: WithdrawOptions): Promise<ConsentEvent> {
  return store.record({
    address: opts.address,
    action: 'withdraw',
    scopes: opts.scopes?.length ? opts.scopes : ALL_SCOPES,
    source: opts.source ?? 'withdrawal',
    method: opts.method ?? 'cli',
    evidence: opts.evidence ?? null,
    recordedBy: opts.recordedBy ?? currentUser(),
    ...(opts.at === undefined ? {} : { at: opts.at }),
  });
}

/** Current state per scope, then the full history (the address's own, then its domain's), oldest first. */
export async function showConsent(store: ConsentStore, address: string): Promise<string> {
  const state = await store.show(address);
  const lines = [`${state.address}: ${describeClass(state)}`];
  if (!state.history.length && !state.domainHistory.length) {
    lines.push('  no consent recorded (no record means no consent)');
    return `${lines.join('\n')}\n`;
  }
  for (const scope of ALL_SCOPES) lines.push(`  ${`${scope}:`.padEnd(8)}${describeScope(state, scope)}`);
  const table = (events: readonly ConsentEvent[]): string =>
    indent(
      textTable(
        ['#', 'at', 'action', 'scopes', 'until', 'source', 'method', 'recorded by', 'evidence', 'wording'],
        events.map((e) => [
          String(e.id),
          e.at,
          e.action,
          e.scopes.join(','),
          e.until ?? '-',
          e.source,
          e.importLine === null ? e.method : `${e.method} (file ${e.importSha256?.slice(0, 12) ?? '?'}…, line ${e.importLine})`,
          e.recordedBy,
          e.evidence ?? '-',
          e.wordingVersion ? `${e.wordingVersion}${e.wordingSha256 ? ` sha256:${e.wordingSha256.slice(0, 12)}…` : ''}` : '-',
        ]),
      ),
    );
  let out = `${lines.join('\n')}\n`;
  if (state.history.length) out += `\nhistory (oldest first):\n${table(state.history)}`;
  if (state.domainHistory.length) out += `\ndomain-wide records for ${domainKey(state.address) ?? ''} (an individual withdrawal wins over them):\n${table(state.domainHistory)}`;
  return out;
}

/** One line per address that has any record: its current scopes ("none" after withdrawal or expiry). */
export async function listConsent(store: ConsentStore): Promise<string> {
  const states = await store.list();
  if (!states.length) return 'no consent recorded\n';
  return textTable(
    ['address', 'consent', 'since', 'events'],
    states.map((s) => [s.address, describeClass(s), s.history.at(-1)?.at ?? '-', String(s.history.length)]),
  );
}

/**
 * "opens,clicks" → ['opens', 'clicks']. Accepts spaces, any case, duplicates and "all"; anything
 * else is a USAGE error naming the known scopes.
 */
export function parseScopes(text: string): ConsentScope[] {
  const words = text
    .split(/[\s,]+/)
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  if (!words.length) throw new RelayError('USAGE', `no consent scope given; use one or more of ${ALL_SCOPES.join(', ')} (comma-separated), or "all"`);
  const scopes: string[] = [];
  for (const w of words) {
    if (w === 'all') scopes.push(...ALL_SCOPES);
    else if ((ALL_SCOPES as readonly string[]).includes(w)) scopes.push(w);
    else {
      const hint = ALL_SCOPES.find((s) => s.startsWith(w) || w.startsWith(s.slice(0, -1)));
      throw new RelayError('USAGE', `unknown consent scope "${w}"${hint ? ` (did you mean "${hint}"?)` : ''}; known scopes: ${ALL_SCOPES.join(', ')}, or "all"`);
    }
  }
  return canonicalScopes(scopes);
}

function describeClass(state: ConsentState): string {
  return consentClass(state.consent) || 'none';
}

function describeScope(state: ConsentState, scope: ConsentScope): string {
  const now = new Date();
  const say = (e: ConsentEvent | null, whose: string): string | null => {
    if (!e) return null;
    if (e.action === 'withdraw') return `withdrawn ${e.at}${whose} (event #${e.id})`;
    if (e.until === null || Date.parse(e.until) > now.getTime()) return `granted ${e.at}${e.until ? ` until ${e.until}` : ''}${whose} (event #${e.id})`;
    return `grant of ${e.at}${whose} expired ${e.until} (event #${e.id})`;
  };
  const { own, domain } = decidingEvents(state.history, state.domainHistory, scope);
  if (domain === null) {
    if (!own) return 'not granted (never recorded)';
    if (own.action === 'withdraw') return `not granted (withdrawn ${own.at}, event #${own.id})`;
    if (state.consent[scope]) return `granted ${own.at}${own.until ? ` until ${own.until}` : ''} (event #${own.id})`;
    return `not granted (grant of ${own.at} expired ${own.until ?? ''}, event #${own.id})`;
  }
  const parts = [say(own, ''), say(domain, ` for ${domainKey(state.address) ?? 'the domain'}`)].filter((p): p is string => p !== null);
  if (!parts.length) return 'not granted (never recorded)';
  return `${state.consent[scope] ? 'granted' : 'not granted'}: ${parts.join('; ')}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}

function currentUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    // no passwd entry (containers running as an arbitrary uid)
    return `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

export interface ImportReport {
  /** What to print: the bad rows with their lines, or what was (or would be) recorded. */
  readonly text: string;
  /** Events recorded (none on a dry run or when any row is bad). */
  readonly recorded: readonly ConsentEvent[];
  readonly ok: boolean;
}

/**
 * Record a planned import (import.ts) all together, or nothing when any row is bad. A dry run
 * checks and reports the same and writes nothing.
 */
export async function importConsent(store: ConsentStore, plan: ImportPlan, opts: { readonly file: string; readonly dryRun: boolean }): Promise<ImportReport> {
  const head = `${opts.file}: ${plan.format} format, sha256 ${plan.sha256}`;
  const grants = plan.events.filter((e) => e.action === 'grant').length;
  const counts = `${plan.events.length} event${plan.events.length === 1 ? '' : 's'} (${grants} grant${grants === 1 ? '' : 's'}, ${plan.events.length - grants} withdrawal${plan.events.length - grants === 1 ? '' : 's'}), ${plan.skipped} row${plan.skipped === 1 ? '' : 's'} without a consent statement skipped`;
  if (plan.problems.length) {
    const lines = plan.problems.map((p) => oneLine(`line ${p.line}: ${p.reason}`));
    return {
      ok: false,
      recorded: [],
      text: `${head}\n${lines.join('\n')}\n${plan.problems.length} bad row${plan.problems.length === 1 ? '' : 's'}; nothing ${opts.dryRun ? 'would be' : 'was'} recorded (the import is all or nothing: fix ${plan.problems.length === 1 ? 'it' : 'them'} and run it again)\n`,
    };
  }
  if (opts.dryRun) return { ok: true, recorded: [], text: `${head}\ndry run: every row is valid; would record ${counts}\n` };
  const recorded = await store.recordMany(plan.events);
  return { ok: true, recorded, text: `${head}\nrecorded ${counts}\n` };
}

export type ExportFormat = 'csv' | 'json';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'json'];

/**
 * Every consent event (domain-level ones included), in the format `consent import` reads back:
 * CSV with the native columns, or JSON (one object per key: current consent and its history).
 */
export async function exportConsent(store: ConsentStore, format: ExportFormat): Promise<string> {
  const states = await store.list();
  if (format === 'json') {
    const out = states.map((s) => ({ address: s.address, consent: consentClass(s.consent) ? s.consent : { opens: false, clicks: false }, history: s.history.map(({ id: _id, ...e }) => e) }));
    return `${JSON.stringify({ exportedAt: new Date().toISOString(), records: out }, null, 2)}\n`;
  }
  let csv = csvLine(EXPORT_COLUMNS);
  for (const s of states) for (const e of s.history) csv += csvLine(exportRow(e));
  return csv;
}
