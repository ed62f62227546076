/** `audit report --format table|csv|json`: the summary (summary.ts) for a terminal, a spreadsheet or a tool. */
import { textTable } from '../store/table.js';
import { csvField } from './report.js';
import type { AuditSummary, ToolFigures } from './summary.js';

export function percent(share: number | null): string {
  return share === null ? '-' : `${(share * 100).toFixed(1)}%`;
}

/** One record per group of the chosen dimension. */
export function summaryCsv(s: AuditSummary): string {
  const lines = [['by', 'key', 'messages', 'trackers', 'removals', 'kept'].join(',')];
  for (const g of s.groups) lines.push([s.by, g.key, String(g.messages), String(g.trackers), String(g.removals), String(g.kept)].map(csvField).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function summaryJson(s: AuditSummary, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ...s, ...extra }, null, 2)}\n`;
}

export function summaryTable(s: AuditSummary): string {
  const out: string[] = [];
  out.push(`audit report${s.since || s.until ? ` ${s.since ?? '…'} – ${s.until ?? 'now'}` : ''} (events ${s.firstEvent ?? '-'} – ${s.lastEvent ?? '-'})`);
  out.push(`messages ${s.messages} (${s.messagesWithTrackers} with trackers); trackers found ${s.trackers}; removed ${s.removals} occurrence(s), kept ${s.kept}`);
  const r = s.recipients;
  out.push(`recipients ${r.total}; with consent ${r.withConsent} (${percent(r.share)}): opens ${r.opens}, clicks ${r.clicks}`);
  out.push('');
  out.push(
    s.groups.length
      ? textTable(
          [`by ${s.by}`, 'messages', 'trackers', 'removed', 'kept'],
          s.groups.map((g) => [g.key, String(g.messages), String(g.trackers), String(g.removals), String(g.kept)]),
        ).trimEnd()
      : `by ${s.by}: no findings`,
  );
  const top = (title: string, list: readonly ToolFigures[]): void => {
    out.push('');
    out.push(
      list.length
        ? textTable(
            [title, 'messages', 'trackers', 'removed'],
            list.map((t) => [t.key, String(t.messages), String(t.trackers), String(t.removals)]),
          ).trimEnd()
        : `${title}: none`,
    );
  };
  top('senders adding the most trackers', s.topSenders);
  top('sending tools (X-Mailer / User-Agent)', s.topMailers);
  out.push('');
  out.push(
    s.rulesVersions.length
      ? textTable(
          ['rule-set version', 'first seen', 'last seen', 'messages', 'starts'],
          s.rulesVersions.map((v) => [v.version, v.firstSeen, v.lastSeen, String(v.messages), String(v.starts)]),
        ).trimEnd()
      : 'rule-set versions: none recorded',
  );
  return `${out.join('\n')}\n`;
}
