/**
 * `audit report --format html`: one self-contained page compliance can open and forward. Inline
 * CSS and SVG only: no script, no font, no image or style from anywhere (a Content-Security-Policy
 * of default-src 'none' says so to the browser too), so opening it contacts nobody.
 */
import type { AuditSummary, ToolFigures } from './summary.js';
import { percent } from './summaryFormat.js';
import type { ChainReport } from './verify.js';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const MAX_SERIES = 7;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export interface HtmlReportInput {
  readonly summary: AuditSummary;
  readonly chain: ChainReport;
  /** When the report was made, ISO-8601. */
  readonly generatedAt: string;
}

export function renderHtmlReport({ summary: s, chain, generatedAt }: HtmlReportInput): string {
  const r = s.recipients;
  const period = s.since || s.until ? `${s.since ?? 'the beginning'} – ${s.until ?? generatedAt}` : `all events (${s.firstEvent ?? '-'} – ${s.lastEvent ?? '-'})`;
  const chainBlock = chain.ok
    ? `<p class="ok" id="chain-status">Verified: ${chain.events} event(s) (#${chain.firstSeq ?? 0}–#${chain.head?.seq ?? 0}), every MAC and link intact.</p>`
    : `<p class="bad" id="chain-status">FAILED: ${chain.problems.length} problem(s) in ${chain.events} event(s).</p><ul>${chain.problems
        .slice(0, 50)
        .map((p) => `<li>${esc(p.kind)}: ${esc(p.message)}</li>`)
        .join('')}</ul>`;
  const notes = [
    chain.unchained ? `${chain.unchained} older row(s) written before the chain existed are not covered.` : '',
    chain.purgedThrough ? `Events #1–#${chain.purgedThrough} were purged for retention (recorded in the log).` : '',
  ].filter(Boolean);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>consent-relay audit report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;margin:2rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem;border-bottom:1px solid #dde2ea;padding-bottom:.25rem}
.muted{color:#5b6575}.figures{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.figure{border:1px solid #dde2ea;border-radius:6px;padding:.6rem .9rem;min-width:9rem}.figure b{display:block;font-size:1.5rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eef1f5}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17692c;font-weight:600}.bad{color:#a3141b;font-weight:600}
.bar{height:14px;background:#eef1f5;border-radius:3px;overflow:hidden;max-width:30rem}.bar span{display:block;height:100%;background:#2ca02c}
svg text{font:11px system-ui,sans-serif;fill:#1d2430}
</style>
</head>
<body>
<h1>Audit report: email trackers removed</h1>
<p class="muted">consent-relay · ${esc(period)} · generated ${esc(generatedAt)}</p>
<div class="figures">
<div class="figure"><b id="fig-messages">${s.messages}</b>messages</div>
<div class="figure"><b id="fig-trackers">${s.trackers}</b>trackers found</div>
<div class="figure"><b id="fig-removals">${s.removals}</b>trackers removed</div>
<div class="figure"><b id="fig-consent">${esc(percent(r.share))}</b>recipients with consent</div>
</div>
<h2>Audit log integrity</h2>
${chainBlock}
${notes.map((n) => `<p class="muted">${esc(n)}</p>`).join('\n')}
<h2>Removals per day, by vendor</h2>
${chart(s)}
<h2>Consent coverage</h2>
<p id="consent-coverage">${r.withConsent} of ${r.total} recipient(s) had consent (${esc(percent(r.share))}): opens ${r.opens}, clicks ${r.clicks}. Everyone else received copies without trackers.</p>
<div class="bar" aria-hidden="true"><span style="width:${r.share === null ? 0 : (r.share * 100).toFixed(1)}%"></span></div>
<h2>Senders adding the most trackers</h2>
${tools(s.topSenders, 'sender', 'top-senders')}
<h2>Sending tools (X-Mailer / User-Agent)</h2>
${tools(s.topMailers, 'tool', 'top-tools')}
<h2>Tracking vendors</h2>
${tools(s.topVendors, 'vendor', 'top-vendors')}
<h2>Rule-set versions in force</h2>
${
  s.rulesVersions.length
    ? `<table id="rules"><thead><tr><th>version</th><th>first seen</th><th>last seen</th><th class="n">messages</th><th class="n">relay starts</th></tr></thead><tbody>${s.rulesVersions
        .map((v) => `<tr><td>${esc(v.version)}</td><td>${esc(v.firstSeen)}</td><td>${esc(v.lastSeen)}</td><td class="n">${v.messages}</td><td class="n">${v.starts}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p class="muted">none recorded in this period</p>'
}
<p class="muted">Removals count tracker occurrences taken out of a copy; trackers count each distinct tracker once per message.
Senders are personal data: handle this report accordingly.</p>
</body>
</html>
`;
}

function tools(list: readonly ToolFigures[], what: string, id: string): string {
  if (!list.length) return '<p class="muted">none</p>';
  return `<table id="${id}"><thead><tr><th>${what}</th><th class="n">messages</th><th class="n">trackers</th><th class="n">removed</th></tr></thead><tbody>${list
    .map((t) => `<tr><td>${esc(t.key)}</td><td class="n">${t.messages}</td><td class="n">${t.trackers}</td><td class="n">${t.removals}</td></tr>`)
    .join('')}</tbody></table>`;
}

/** A stacked bar per day: the largest vendors by removals, the rest as "other". */
function chart(s: AuditSummary): string {
  if (!s.daily.length) return '<p class="muted">No trackers were removed in this period.</p>';
  const totals = new Map<string, number>();
  for (const d of s.daily) totals.set(d.vendor, (totals.get(d.vendor) ?? 0) + d.removals);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([v]) => v);
  const series = ranked.length > MAX_SERIES + 1 ? [...ranked.slice(0, MAX_SERIES), 'other'] : ranked;
  const seriesOf = (v: string): string => (series.includes(v) ? v : 'other');
  const days = [...new Set(s.daily.map((d) => d.day))].sort();
  const perDay = new Map<string, Map<string, number>>();
  for (const d of s.daily) {
    const m = perDay.get(d.day) ?? new Map<string, number>();
    m.set(seriesOf(d.vendor), (m.get(seriesOf(d.vendor)) ?? 0) + d.removals);
    perDay.set(d.day, m);
  }
  const dayTotal = (day: string): number => [...(perDay.get(day)?.values() ?? [])].reduce((a, b) => a + b, 0);
  // a round axis: a step of 1, 2 or 5 × 10^k, about four of them
  const peak = Math.max(1, ...days.map(dayTotal));
  const mag = 10 ** Math.floor(Math.log10(Math.max(1, peak / 4)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st * 4 >= peak) ?? 10 * mag;
  const max = Math.ceil(peak / step) * step;
  const W = 720;
  const H = 220;
  const left = 40;
  const top = 16;
  const plotH = H - top - 40;
  const plotW = W - left - 10;
  const slot = plotW / days.length;
  const barW = Math.max(4, Math.min(48, slot * 0.7));
  const parts: string[] = [];
  for (let v = 0; v <= max; v += step) {
    const y = top + plotH - (v / max) * plotH;
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#dde2ea"/><text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${v}</text>`);
  }
  days.forEach((day, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    for (const [si, v] of series.entries()) {
      const n = perDay.get(day)?.get(v) ?? 0;
      if (!n) continue;
      const h = (n / max) * plotH;
      y -= h;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(day)} ${esc(v)}: ${n}</title></rect>`,
      );
    }
    parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" class="total">${dayTotal(day)}</text>`);
    if (days.length <= 16 || i % Math.ceil(days.length / 16) === 0) parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${esc(day.slice(5))}</text>`);
  });
  const legend = series.map(
    (v, si) =>
      `<span style="display:inline-block;margin-right:1rem"><span style="display:inline-block;width:10px;height:10px;background:${PALETTE[si % PALETTE.length]};margin-right:4px"></span>${esc(v)} (${series[si] === 'other' ? [...totals.entries()].filter(([k]) => !series.includes(k)).reduce((a, [, n]) => a + n, 0) : (totals.get(v) ?? 0)})</span>`,
  );
  return `<svg id="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="Removals per day by vendor">${parts.join('')}</svg>
<p id="legend">${legend.join('')}</p>`;
}
