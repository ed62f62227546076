/**
 * The consent commands as plain functions: typed options in, an event or text out. The CLI only
 * parses arguments and prints; everything an operator can do is testable here without a process.
 *
 * Withdrawing is deliberately as easy as granting, or easier: no source, evidence or scopes are
 * required (the default is every scope), because a person's "stop" must never wait on paperwork.
 */
import { userInfo } from 'node:os';

import { RelayError } from '../errors.js';
import { consentClass } from '../rewrite/types.js';
import { textTable } from '../store/table.js';
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
    ...(opts.at === undefined ? {} : { at: opts.at }),
  });
}

export async function withdrawConsent(store: ConsentStore, opts: WithdrawOptions): Promise<ConsentEvent> {
  return store.record({
    address: opts.address,
    action: 'withdraw',
    scopes: opts.scopes && opts.scopes.length ? opts.scopes : ALL_SCOPES,
    source: opts.source ?? 'withdrawal',
    method: opts.method ?? 'cli',
    evidence: opts.evidence ?? null,
    recordedBy: opts.recordedBy ?? currentUser(),
    ...(opts.at === undefined ? {} : { at: opts.at }),
  });
}

/** Current state per scope, then the full history, oldest first. */
export async function showConsent(store: ConsentStore, address: string): Promise<string> {
  const state = await store.show(address);
  const lines = [`${state.address}: ${describeClass(state)}`];
  if (!state.history.length) {
    lines.push('  no consent recorded (no record means no consent)');
    return `${lines.join('\n')}\n`;
  }
  for (const scope of ALL_SCOPES) lines.push(`  ${`${scope}:`.padEnd(8)}${describeScope(state, scope)}`);
  lines.push('', 'history (oldest first):');
  const table = textTable(
    ['#', 'at', 'action', 'scopes', 'until', 'source', 'method', 'recorded by', 'evidence'],
    state.history.map((e) => [
      String(e.id),
      e.at,
      e.action,
      e.scopes.join(','),
      e.until ?? '-',
      e.source,
      e.method,
      e.recordedBy,
      e.evidence ?? '-',
    ]),
  );
  return `${lines.join('\n')}\n${indent(table)}`;
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
      throw new RelayError(
        'USAGE',
        `unknown consent scope "${w}"${hint ? ` (did you mean "${hint}"?)` : ''}; known scopes: ${ALL_SCOPES.join(', ')}, or "all"`,
      );
    }
  }
  return canonicalScopes(scopes);
}

function describeClass(state: ConsentState): string {
  return consentClass(state.consent) || 'none';
}

function describeScope(state: ConsentState, scope: ConsentScope): string {
  const last = [...state.history].reverse().find((e) => e.scopes.includes(scope));
  if (!last) return 'not granted (never recorded)';
  if (last.action === 'withdraw') return `not granted (withdrawn ${last.at}, event #${last.id})`;
  if (state.consent[scope]) return `granted ${last.at}${last.until ? ` until ${last.until}` : ''} (event #${last.id})`;
  return `not granted (grant of ${last.at} expired ${last.until ?? ''}, event #${last.id})`;
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
