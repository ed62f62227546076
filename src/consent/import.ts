/**
 * `consent import FILE.csv`: consent records from a CRM export or from `consent export`, checked
 * row by row before anything is written, then recorded all together or not at all.
 *
 * Which file it is, is read off its header line. The mapping (also in the README):
 *
 * | format     | recognised by (header)                                   | email column                         | withdraw when                                    | grant when                                         |
 * |------------|----------------------------------------------------------|--------------------------------------|--------------------------------------------------|----------------------------------------------------|
 * | native     | `address` (or `email`) and `action`                      | `address`                            | action = withdraw                                | action = grant (scopes, until, … from the row)     |
 * | HubSpot    | `Email` and `Unsubscribed from all email` or `Legal basis for processing contact's data` | `Email`   | `Unsubscribed from all email` is true            | the legal basis names consent ("Freely given consent from contact") and the contact is not unsubscribed |
 * | Salesforce | `Email` and `HasOptedOutOfEmail` (data export) or `Email Opt Out` (report) | `Email`            | opted out is true / 1                            | never: Salesforce records opt-out only, and not having opted out is not consent |
 * | Pipedrive  | a `Marketing status` column (`Person - Marketing status`) | the first `Email` column (`Person - Email`, `Email - Work`) | status `Unsubscribed`                  | status `Subscribed` or `Pending upgrade` (subscribed over the plan's limit) |
 *
 * Any other row says nothing and is skipped (counted): HubSpot legitimate interest, Pipedrive
 * `No consent` (its default for every contact), `Bounced`, `Pending double opt-in` (not confirmed
 * yet), `Archived`. Defaults never become withdrawals, so an export of every contact does not
 * bury a domain-level grant under blanket refusals. A CRM records consent to marketing email, not
 * to which tracking: a grant from a CRM file covers the scopes given with `--scope` (required
 * when the file has grants); a withdrawal covers every scope.
 *
 * Every event carries the file's SHA-256 and the line its row starts on, and the wording given
 * with `--wording-version`/`--wording-file` (native rows may carry their own).
 */
import { createHash } from 'node:crypto';

import { RelayError, isRelayError } from '../errors.js';
import { validateConsentKey } from './address.js';
import { parseCsv } from './csv.js';
import { canonicalScopes } from './sqlite.js';
import { ALL_SCOPES, type ConsentScope, type NewConsentEvent } from './store.js';

type ImportFormat = 'native' | 'hubspot' | 'salesforce' | 'pipedrive';

export interface ImportOptions {
  /** The file's bytes (hashed as they are). */
  readonly bytes: Buffer;
  /** Scopes a CRM row's opt-in grants; required when the file has any. */
  readonly scopes?: readonly ConsentScope[];
  /** Source recorded on CRM rows; default "import of <format> export". */
  readonly source?: string;
  readonly recordedBy: string;
  readonly wordingVersion?: string;
  readonly wordingSha256?: string;
  /** The clock: rows dated later than this (+5 min) are refused. */
  readonly now: Date;
}

interface ImportProblem {
  readonly line: number;
  readonly reason: string;
}

export interface ImportPlan {
  readonly format: ImportFormat;
  readonly sha256: string;
  readonly events: readonly NewConsentEvent[];
  /** Rows that say nothing about consent (counted, not errors). */
  readonly skipped: number;
  /** Bad rows: any of these and nothing is recorded. */
  readonly problems: readonly ImportProblem[];
}

const NATIVE_COLUMNS = ['address', 'action', 'scopes', 'source', 'method', 'evidence', 'recorded_by', 'at', 'until', 'wording_version', 'wording_sha256', 'import_sha256', 'import_line'] as const;
export const EXPORT_COLUMNS: readonly string[] = NATIVE_COLUMNS;

type Verdict = { kind: 'grant' | 'withdraw' | 'skip' } | { kind: 'bad'; reason: string };

interface Mapper {
  readonly format: ImportFormat;
  readonly emailColumn: number;
  verdict(get: (name: string) => string | undefined): Verdict;
}

export function planImport(opts: ImportOptions): ImportPlan {
  const sha256 = createHash('sha256').update(opts.bytes).digest('hex');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(opts.bytes);
  } catch {
    return { format: 'native', sha256, events: [], skipped: 0, problems: [{ line: 1, reason: 'the file is not UTF-8 text; export it as CSV (UTF-8)' }] };
  }
  const parsed = parseCsv(text);
  if (!parsed.ok) return { format: 'native', sha256, events: [], skipped: 0, problems: [{ line: parsed.line, reason: parsed.error }] };
  const [header, ...rows] = parsed.records;
  if (!header) return { format: 'native', sha256, events: [], skipped: 0, problems: [{ line: 1, reason: 'the file is empty; expected a header line' }] };
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const mapper = detect(names);
  if (!mapper) {
    return {
      format: 'native',
      sha256,
      events: [],
      skipped: 0,
      problems: [
        {
          line: header.line,
          reason: `unknown column layout (${header.fields.slice(0, 6).join(', ')}${header.fields.length > 6 ? ', …' : ''}); expected a consent-relay export (address,action,…) or a HubSpot, Salesforce or Pipedrive contact export with its email and consent/subscription columns`,
        },
      ],
    };
  }
  const problems: ImportProblem[] = [];
  const events: NewConsentEvent[] = [];
  let skipped = 0;
  const crmSource = opts.source?.trim() || `import of ${mapper.format} export`;
  const needScopes = mapper.format !== 'native' && !opts.scopes?.length;
  for (const row of rows) {
    const problem = (reason: string): void => void problems.push({ line: row.line, reason });
    if (row.fields.length !== names.length) {
      problem(`${row.fields.length} fields where the header has ${names.length}`);
      continue;
    }
    const get = (name: string): string | undefined => {
      const i = names.indexOf(name);
      return i < 0 ? undefined : unformula(row.fields[i]!.trim());
    };
    const rawAddress = unformula(row.fields[mapper.emailColumn]!.trim());
    const verdict = mapper.verdict(get);
    if (verdict.kind === 'bad') {
      problem(verdict.reason);
      continue;
    }
    if (verdict.kind === 'skip') {
      skipped++;
      continue;
    }
    try {
      if (!rawAddress) throw new RelayError('USAGE', 'the email address is empty');
      const address = validateConsentKey(rawAddress);
      const provenance = { importSha256: sha256, importLine: row.line, recordedBy: opts.recordedBy, method: 'import' };
      if (mapper.format === 'native') {
        events.push(nativeEvent(address, verdict.kind, get, provenance, opts));
      } else if (verdict.kind === 'withdraw') {
        events.push({ address, action: 'withdraw', scopes: ALL_SCOPES, source: crmSource, ...provenance, ...wording(opts) });
      } else {
        if (needScopes)
          throw new RelayError('USAGE', `this row records consent, but the ${mapper.format} export does not say to which tracking; give it with --scope opens,clicks (or clicks, or opens)`);
        events.push({ address, action: 'grant', scopes: opts.scopes ?? [], source: crmSource, ...provenance, ...wording(opts) });
      }
      checkTimes(events.at(-1)!, opts.now);
    } catch (err) {
      if (!isRelayError(err)) throw err;
      problem(err.message);
    }
  }
  return { format: mapper.format, sha256, events, skipped, problems };
}

function wording(opts: ImportOptions): Pick<NewConsentEvent, 'wordingVersion' | 'wordingSha256'> {
  return { ...(opts.wordingVersion ? { wordingVersion: opts.wordingVersion } : {}), ...(opts.wordingSha256 ? { wordingSha256: opts.wordingSha256 } : {}) };
}

function nativeEvent(
  address: string,
  action: 'grant' | 'withdraw',
  get: (name: string) => string | undefined,
  provenance: { importSha256: string; importLine: number; recordedBy: string; method: string },
  opts: ImportOptions,
): NewConsentEvent {
  const scopesText = get('scopes') ?? '';
  const scopes = scopesText
    ? canonicalScopes(
        scopesText
          .split(/[\s,;|]+/)
          .filter(Boolean)
          .map((s) => s.toLowerCase()),
      )
    : action === 'withdraw'
      ? [...ALL_SCOPES]
      : [];
  if (!scopes.length) throw new RelayError('USAGE', 'a grant needs its scopes (opens, clicks)');
  const source = get('source') ?? '';
  if (action === 'grant' && !source) throw new RelayError('USAGE', 'a grant needs a source: where the consent came from');
  const opt = (name: string): string | undefined => {
    const v = get(name);
    return v ? v : undefined;
  };
  const until = opt('until');
  const at = opt('at');
  if (until !== undefined && action !== 'grant') throw new RelayError('USAGE', '"until" applies to grants only');
  const recordedBy = opt('recorded_by');
  const rowWordingVersion = opt('wording_version');
  const rowWordingSha = opt('wording_sha256');
  if (rowWordingSha !== undefined && !/^[0-9a-fA-F]{64}$/.test(rowWordingSha)) throw new RelayError('USAGE', `wording_sha256 must be 64 hex characters, not "${rowWordingSha}"`);
  if (rowWordingSha !== undefined && rowWordingVersion === undefined) throw new RelayError('USAGE', 'wording_sha256 needs its wording_version');
  return {
    address,
    action,
    scopes,
    source: source || 'withdrawal',
    ...provenance,
    // the row's own method and recorder are history; the import is said by importSha256/importLine
    method: opt('method') ?? provenance.method,
    ...(recordedBy ? { recordedBy } : {}),
    evidence: opt('evidence') ?? null,
    ...(at ? { at: checkedTime(at, 'at') } : {}),
    ...(until ? { until: checkedTime(until, 'until') } : {}),
    ...(rowWordingVersion ? { wordingVersion: rowWordingVersion, ...(rowWordingSha ? { wordingSha256: rowWordingSha.toLowerCase() } : {}) } : wording(opts)),
  };
}

function checkedTime(value: string, name: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new RelayError('USAGE', `"${name}" is not a date or time: "${value}" (use ISO-8601, e.g. 2026-10-01 or 2026-10-01T12:00:00Z)`);
  return new Date(ms).toISOString();
}

function checkTimes(e: NewConsentEvent, now: Date): void {
  const at = e.at ? Date.parse(e.at) : now.getTime();
  if (at > now.getTime() + 5 * 60_000) throw new RelayError('USAGE', `"at" ${e.at ?? ''} is in the future`);
  if (e.until && Date.parse(e.until) <= at) throw new RelayError('USAGE', `"until" ${e.until} is not after the time of the grant`);
}

/** `consent export` writes '@x' as "'@x" so spreadsheets do not run it; read it back as it was. */
function unformula(v: string): string {
  return /^'[=+\-@\t\r]/.test(v) ? v.slice(1) : v;
}

const TRUE = new Set(['true', '1', 'yes', 'y', 'x', 'checked']);
const FALSE = new Set(['false', '0', 'no', 'n', '']);

function bool(v: string | undefined, column: string): boolean | string {
  const t = (v ?? '').trim().toLowerCase();
  if (TRUE.has(t)) return true;
  if (FALSE.has(t)) return false;
  return `"${column}" must be true or false, not "${v ?? ''}"`;
}

function detect(names: readonly string[]): Mapper | null {
  const col = (name: string): number => names.indexOf(name);
  const address = col('address') >= 0 ? col('address') : col('email');
  if (address >= 0 && col('action') >= 0) {
    return {
      format: 'native',
      emailColumn: address,
      verdict: (get) => {
        const a = (get('action') ?? '').toLowerCase();
        return a === 'grant' || a === 'withdraw' ? { kind: a } : { kind: 'bad', reason: `action must be "grant" or "withdraw", not "${get('action') ?? ''}"` };
      },
    };
  }
  const email = col('email');
  const unsub = col('unsubscribed from all email');
  const basis = col("legal basis for processing contact's data");
  if (email >= 0 && (unsub >= 0 || basis >= 0)) {
    return {
      format: 'hubspot',
      emailColumn: email,
      verdict: (get) => {
        const out = unsub >= 0 ? bool(get('unsubscribed from all email'), 'Unsubscribed from all email') : false;
        if (typeof out === 'string') return { kind: 'bad', reason: out };
        if (out) return { kind: 'withdraw' };
        return /consent/i.test(get("legal basis for processing contact's data") ?? '') ? { kind: 'grant' } : { kind: 'skip' };
      },
    };
  }
  const optOutName = ['hasoptedoutofemail', 'email opt out'].find((n) => col(n) >= 0);
  if (email >= 0 && optOutName) {
    return {
      format: 'salesforce',
      emailColumn: email,
      verdict: (get) => {
        const out = bool(get(optOutName), optOutName === 'hasoptedoutofemail' ? 'HasOptedOutOfEmail' : 'Email Opt Out');
        if (typeof out === 'string') return { kind: 'bad', reason: out };
        return out ? { kind: 'withdraw' } : { kind: 'skip' };
      },
    };
  }
  const status = names.findIndex((n) => n === 'marketing status' || n.endsWith(' - marketing status'));
  const pdEmail = names.findIndex((n) => /(^|- )email( - \w+)?$/.test(n));
  if (status >= 0 && pdEmail >= 0) {
    const statusName = names[status]!;
    return {
      format: 'pipedrive',
      emailColumn: pdEmail,
      verdict: (get) => {
        const v = (get(statusName) ?? '').trim().toLowerCase();
        if (v === 'unsubscribed') return { kind: 'withdraw' };
        if (v === 'subscribed' || v === 'pending upgrade') return { kind: 'grant' };
        if (['no consent', 'bounced', 'pending double opt-in', 'archived', ''].includes(v)) return { kind: 'skip' };
        return {
          kind: 'bad',
          reason: `unknown marketing status "${get(statusName) ?? ''}" (expected Subscribed, Unsubscribed, No consent, Bounced, Pending upgrade, Pending double opt-in or Archived)`,
        };
      },
    };
  }
  return null;
}

/** Rows of `consent export --format csv` (the native import format), header first. */
export function exportRow(e: import('./store.js').ConsentEvent): string[] {
  return [
    e.address,
    e.action,
    e.scopes.join(','),
    e.source,
    e.method,
    e.evidence ?? '',
    e.recordedBy,
    e.at,
    e.until ?? '',
    e.wordingVersion ?? '',
    e.wordingSha256 ?? '',
    e.importSha256 ?? '',
    e.importLine === null ? '' : String(e.importLine),
  ];
}
