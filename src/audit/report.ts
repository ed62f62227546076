/**
 * Audit rows as an operator or an auditor reads them: an aligned table for the terminal, CSV for
 * a spreadsheet (one fixed set of columns for every event type), JSON for tools.
 */
import { oneLine, textTable } from '../store/table.js';
import type { AuditRow } from './log.js';

export type AuditFormat = 'table' | 'csv' | 'json';
export const AUDIT_FORMATS: readonly AuditFormat[] = ['table', 'csv', 'json'];

export function formatAudit(rows: readonly AuditRow[], format: AuditFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(rows, null, 2)}\n`;
    case 'csv':
      return toCsv(rows);
    case 'table':
      return toTable(rows);
  }
}

/** Every field of every event type, in this order; cells a type does not have stay empty. */
export const CSV_COLUMNS = [
  'id',
  'at',
  'type',
  'queue_id',
  'consent_class',
  'recipient_hashes',
  'sender',
  'message_id',
  'recipient_count',
  'upstream',
  'rules_version',
  'mode',
  'finding_count',
  'kind',
  'technique',
  'vendor',
  'rule_id',
  'action',
  'redacted_url',
  'count',
  'reason',
  // campaign-template rows (added after the original columns, so existing column positions hold)
  'campaign',
  'host',
  'path_shape',
  'positions',
  'copies',
  'spool_id',
  'attempt',
  'next_attempt_at',
  'cause',
  'dsn',
  'dsn_recipient_hash',
  'dsn_spool_id',
  'note',
  // events about the relay or a person (chained audit log, 2026-11-30)
  'detail',
] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

function csvRecord(r: AuditRow): Record<CsvColumn, string> {
  const out: Record<CsvColumn, string> = Object.fromEntries(CSV_COLUMNS.map((c) => [c, ''])) as Record<CsvColumn, string>;
  out.id = String(r.id);
  out.at = r.at;
  out.type = r.type;
  out.queue_id = r.queueId;
  out.consent_class = r.consentClass;
  out.recipient_hashes = r.recipientHashes.join(' ');
  switch (r.type) {
    case 'relayed':
      out.sender = r.sender;
      out.message_id = r.messageId ?? '';
      out.recipient_count = String(r.recipientCount);
      out.upstream = r.upstream;
      out.rules_version = r.rulesVersion;
      out.mode = r.mode;
      out.finding_count = String(r.findingCount);
      break;
    case 'finding':
      out.kind = r.kind;
      out.technique = r.technique;
      out.vendor = r.vendor ?? '';
      out.rule_id = r.ruleId;
      out.action = r.action;
      out.redacted_url = r.redactedUrl;
      out.count = String(r.count ?? 1);
      out.note = r.note ?? '';
      break;
    case 'campaign-template':
      out.campaign = r.campaign;
      out.host = r.host;
      out.path_shape = r.pathShape;
      out.positions = r.positions.join('; ');
      out.copies = String(r.copies);
      break;
    case 'rejected':
      out.reason = r.reason;
      out.upstream = r.upstream ?? '';
      break;
    case 'relay-started':
    case 'consent-changed':
    case 'subject-request':
    case 'retention-purged':
    case 'do-not-contact':
      out.detail = detail(r);
      break;
    case 'spool-refiltered':
      out.spool_id = r.spoolId;
      out.detail = detail(r);
      break;
    default:
      out.spool_id = r.spoolId ?? '';
      out.attempt = String(r.attempt);
      out.upstream = r.upstream;
      if (r.type === 'spooled' || r.type === 'retried') out.next_attempt_at = r.nextAttemptAt;
      if (r.type === 'bounced') {
        out.cause = r.cause;
        out.dsn = r.dsn;
        out.dsn_recipient_hash = r.dsnRecipientHash ?? '';
        out.dsn_spool_id = r.dsnSpoolId ?? '';
      }
  }
  return out;
}

/** RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote, CR or LF. */
function toCsv(rows: readonly AuditRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const rec = csvRecord(r);
    lines.push(CSV_COLUMNS.map((c) => csvField(rec[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function csvField(value: string): string {
  // a cell starting with = + - @ is run as a formula by spreadsheets; reasons and upstream replies
  // are text from outside, so such a cell gets a leading apostrophe (OWASP's advice)
  const v = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}

function toTable(rows: readonly AuditRow[]): string {
  if (!rows.length) return 'no audit events\n';
  return textTable(
    ['id', 'at', 'type', 'queue id', 'consent', 'rcpts', 'detail'],
    rows.map((r) => [String(r.id), r.at, r.type, r.queueId, r.consentClass || 'none', String(r.recipientHashes.length), oneLine(detail(r))]),
  );
}

function detail(r: AuditRow): string {
  switch (r.type) {
    case 'relayed':
      return `from ${r.sender || '<>'}${r.authUser ? ` (login ${r.authUser})` : ''} ${r.mode} rules ${r.rulesVersion}, ${r.findingCount} finding(s), upstream: ${r.upstream}`;
    case 'finding':
      return `${r.action} ${r.kind}/${r.technique} ${r.vendor ?? '-'} ${r.ruleId} ${r.redactedUrl}${r.count && r.count > 1 ? ` (x${r.count})` : ''}${r.note ? ` — ${r.note}` : ''}`;
    case 'campaign-template':
      return `campaign ${r.campaign}: ${r.host}${r.pathShape} varies at ${r.positions.join(', ')} (${r.copies} copies)`;
    case 'rejected':
      return `${r.reason}${r.upstream === undefined ? '' : `; upstream: ${r.upstream}`}`;
    case 'spooled':
    case 'retried':
      return `spool ${r.spoolId} attempt ${r.attempt}, next ${r.nextAttemptAt}, upstream: ${r.upstream}`;
    case 'delivered-from-spool':
      return `spool ${r.spoolId} attempt ${r.attempt}, upstream: ${r.upstream}`;
    case 'bounced':
      return `${r.cause}${r.spoolId === null ? '' : ` spool ${r.spoolId}`} attempt ${r.attempt}, DSN ${r.dsn}${r.dsnRecipientHash === null ? '' : ` to ${r.dsnRecipientHash.slice(0, 12)}…`}${r.dsnSpoolId === null ? '' : ` as ${r.dsnSpoolId}`}, upstream: ${r.upstream}`;
    case 'dropped':
      return `by an operator: spool ${r.spoolId} after ${r.attempt} attempt(s)${r.upstream ? `, last: ${r.upstream}` : ''}`;
    case 'relay-started':
      return `config ${r.configHash.slice(0, 16)}… rules ${r.rulesVersion} ${r.mode} (consent-relay ${r.version})`;
    case 'consent-changed':
      return `${r.action} ${r.scopes.join(',')} via ${r.method}${r.domain ? ` for @${r.domain}` : ''}${r.until ? ` until ${r.until}` : ''}${r.consentEventId === null ? '' : ` (consent event ${r.consentEventId})`}`;
    case 'subject-request':
      return `${r.request}, receipt ${r.receipt}${
        r.counts
          ? ` (${Object.entries(r.counts)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')})`
          : ''
      }`;
    case 'retention-purged':
      return `${r.events} event(s) before ${r.before} purged (through #${r.throughSeq})`;
    case 'do-not-contact':
      return 'accepted although the recipient objected to contact (rights.doNotContact.mode: warn)';
    case 'spool-refiltered':
      return `spool ${r.spoolId} filtered again before its next attempt: consent ${r.previousClass || 'none'} -> ${r.consentClass || 'none'}, ${r.findingCount} finding(s)`;
  }
}
