/**
 * Option values from the command line turned into the typed options the command functions take.
 * Used as commander argument parsers; each throws RelayError USAGE with a one-line fix, which
 * main() prints as "consent-relay: …" (commander lets errors other than its own pass through).
 */
import { AUDIT_EVENT_TYPES, type AuditEventType } from '../audit/events.js';
import { AUDIT_FORMATS, type AuditFormat } from '../audit/report.js';
import { EXPORT_FORMATS, parseScopes, type ExportFormat } from '../consent/commands.js';
import type { ConsentScope } from '../consent/store.js';
import { RelayError } from '../errors.js';

const AGO = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
// Date.parse also accepts "7" or "May 3" and guesses; only ISO-8601 dates and times get through
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An ISO-8601 date ("2026-10-01", midnight UTC) or time, or a duration ("7d", "12h", "2w")
 * counted back from `now` (direction -1) or forward (+1). Returns ISO-8601 UTC.
 */
export function parseWhen(value: string, option: string, direction: -1 | 1 = -1, now: () => number = Date.now): string {
  const v = value.trim();
  const ago = AGO.exec(v);
  if (ago) return new Date(now() + direction * Number(ago[1]) * UNIT_MS[ago[2]!]!).toISOString();
  const ms = ISO.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) {
    const example = direction < 0 ? '7d (7 days ago), 12h' : '365d (a year from now), 4w';
    throw new RelayError('USAGE', `${option} must be a date (2026-10-01), a time (2026-10-01T12:00:00Z) or a duration like ${example}, not "${value}"`);
  }
  return new Date(ms).toISOString();
}

/** "opens,clicks", "clicks", "all"; unknown scopes are refused with the list of known ones. */
export function parseScopeOption(value: string): ConsentScope[] {
  return parseScopes(value);
}

export function parseLimit(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new RelayError('USAGE', `--limit must be a whole number of rows, 1 or more, not "${value}"`);
  return n;
}

export function parseAuditFormat(value: string): AuditFormat {
  const v = value.trim().toLowerCase();
  const found = AUDIT_FORMATS.find((f) => f === v);
  if (!found) throw new RelayError('USAGE', `--format must be one of ${AUDIT_FORMATS.join(', ')}, not "${value}"`);
  return found;
}

export function parseAuditType(value: string): AuditEventType {
  const v = value.trim().toLowerCase();
  const found = AUDIT_EVENT_TYPES.find((t) => t === v);
  if (!found) throw new RelayError('USAGE', `--type must be one of ${AUDIT_EVENT_TYPES.join(', ')}, not "${value}"`);
  return found;
}

export function parseExportFormat(value: string): ExportFormat {
  const v = value.trim().toLowerCase();
  const found = EXPORT_FORMATS.find((f) => f === v);
  if (!found) throw new RelayError('USAGE', `--format must be one of ${EXPORT_FORMATS.join(', ')}, not "${value}"`);
  return found;
}

export interface ListenerFlags {
  submission?: string;
  smarthost?: string;
  allow?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/**
 * `serve --submission HOST:PORT --tls-cert FILE --tls-key FILE` and
 * `serve --smarthost HOST:PORT --allow CIDR[,CIDR…]` as listener entries added to the config's
 * (checked there like any other entry). A certificate given with --smarthost offers STARTTLS.
 */
export function listenerFlags(o: ListenerFlags): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const tls = o.tlsCert && o.tlsKey ? { cert: o.tlsCert, key: o.tlsKey } : undefined;
  if (!!o.tlsCert !== !!o.tlsKey) throw new RelayError('USAGE', '--tls-cert and --tls-key go together: the certificate chain and its private key (PEM files)');
  if (o.submission) {
    if (!tls) throw new RelayError('USAGE', '--submission needs --tls-cert FILE --tls-key FILE: clients log in only over TLS');
    out.push({ mode: 'submission', address: o.submission, tls, implicitTls: /:465$/.test(o.submission) });
  }
  if (o.smarthost) {
    if (!o.allow) throw new RelayError('USAGE', '--smarthost needs --allow CIDR[,CIDR...]: the networks of the MTAs that may relay through it');
    const allow = o.allow
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    out.push({ mode: 'smarthost', address: o.smarthost, allow, ...(tls ? { tls } : {}) });
  } else if (o.allow) {
    throw new RelayError('USAGE', '--allow belongs to --smarthost HOST:PORT');
  }
  return out;
}

/** One of a fixed list of words (case-insensitive); anything else is USAGE naming the list. */
export function parseChoice<T extends string>(value: string, option: string, choices: readonly T[]): T {
  const v = value.trim().toLowerCase();
  const found = choices.find((c) => c === v);
  if (!found) throw new RelayError('USAGE', `${option} must be one of ${choices.join(', ')}, not "${value}"`);
  return found;
}
