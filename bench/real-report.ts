/**
 * Printing the real-mail evaluation (bench/real.ts) beside the synthetic corpus, and the ratchet's
 * verdict. Used by `npm run eval` (bench/eval.ts).
 */
import type { EvalReport } from './eval.js';
import { REAL_TARGETS, compareToKnown, type HalfMetrics, type HalfReport, type KnownMisses, type RealMiss } from './real.js';

const pct = (n: number, d: number): string => (d ? `${((n / d) * 100).toFixed(1)}%` : '-');
const frac = (n: number, d: number): string => (d ? `${pct(n, d)} (${n}/${d})` : '-');

export interface RealFigures {
  readonly linksHandled: number | null;
  readonly pixelsRemoved: number | null;
  readonly legitLost: number | null;
  readonly broken: number;
  readonly unsubscribeLost: number;
}

export function figures(m: HalfMetrics): RealFigures {
  return {
    linksHandled: m.links ? m.linksHandled / m.links : null,
    pixelsRemoved: m.pixels ? m.pixelsRemoved / m.pixels : null,
    legitLost: m.legit ? m.legitLost / m.legit : null,
    broken: m.broken,
    unsubscribeLost: m.unsubscribeLost,
  };
}

/** Whether a half meets the issue's targets (the held-out half is the one that counts). */
export function meetsRealTargets(m: HalfMetrics): boolean {
  const f = figures(m);
  return (
    (f.linksHandled ?? 1) >= REAL_TARGETS.links &&
    (f.pixelsRemoved ?? 1) >= REAL_TARGETS.pixels &&
    (f.legitLost ?? 0) <= REAL_TARGETS.legitLost &&
    f.broken === 0 &&
    f.unsubscribeLost === 0 &&
    m.errors === 0
  );
}

export function sideBySide(synthetic: EvalReport | null, halves: readonly HalfReport[]): string {
  const cols = ['', 'synthetic', ...halves.map((h) => `real ${h.half}`), 'target (held-out)'];
  const s = synthetic;
  const click = s?.byKind.click;
  const open = s?.byKind.open;
  const rows: string[][] = [
    ['messages', s ? String(s.messages) : '-', ...halves.map((h) => `${h.metrics.messages}${h.metrics.missing ? ` (+${h.metrics.missing} absent)` : ''}`), ''],
    [
      'tracked & per-recipient links handled',
      click ? frac(click.removed, click.trackers) : '-',
      ...halves.map((h) => frac(h.metrics.linksHandled, h.metrics.links)),
      `>= ${(REAL_TARGETS.links * 100).toFixed(0)}%`,
    ],
    ['pixels removed', open ? frac(open.removed, open.trackers) : '-', ...halves.map((h) => frac(h.metrics.pixelsRemoved, h.metrics.pixels)), `>= ${(REAL_TARGETS.pixels * 100).toFixed(0)}%`],
    [
      'legit images & links lost',
      s ? frac(s.overall.lost, s.overall.legit) : '-',
      ...halves.map((h) => frac(h.metrics.legitLost, h.metrics.legit)),
      `<= ${(REAL_TARGETS.legitLost * 100).toFixed(1)}%`,
    ],
    ['links broken', s ? `${s.notUnwrapped.length} not unwrapped` : '-', ...halves.map((h) => String(h.metrics.broken)), '0'],
    ['unsubscribe links lost', '-', ...halves.map((h) => `${h.metrics.unsubscribeLost}/${h.metrics.unsubscribe}`), '0'],
    ['decodable links unwrapped exactly', s ? frac(s.overall.unwrapped, s.overall.decodable) : '-', ...halves.map((h) => frac(h.metrics.unwrapped, h.metrics.decodable)), ''],
    ['messages refused by the engine', s ? String(s.errors.length) : '-', ...halves.map((h) => String(h.metrics.errors)), '0'],
  ];
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ');
  const out = [line(cols), widths.map((w) => '-'.repeat(w)).join('   '), ...rows.map(line)];
  const held = halves.find((h) => h.half === 'heldout');
  if (held?.metrics.messages) out.push('', `held-out half ${meetsRealTargets(held.metrics) ? 'meets' : 'does NOT meet'} the targets`);
  return out.join('\n');
}

export interface ListOptions {
  /** Print held-out misses with their URLs (off by default: the held-out half is not for tuning). */
  readonly showHeldout: boolean;
}

export function listMisses(halves: readonly HalfReport[], opts: ListOptions): string {
  const out: string[] = [];
  for (const h of halves) {
    if (!h.misses.length) continue;
    out.push('', `misses in real ${h.half} (${h.misses.length}):`);
    if (h.half === 'heldout' && !opts.showHeldout) {
      const per = new Map<string, Map<string, number>>();
      for (const m of h.misses) {
        let k = per.get(m.message);
        if (!k) {
          k = new Map();
          per.set(m.message, k);
        }
        k.set(m.kind, (k.get(m.kind) ?? 0) + 1);
      }
      for (const [msg, kinds] of per) out.push(`  ${msg}: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}`);
      out.push('  (URLs hidden: the held-out half is not for tuning; --show-heldout prints them)');
      continue;
    }
    for (const m of h.misses) out.push(`  ${m.message}  [${m.kind}]  ${m.url.slice(0, 160)}\n      engine: ${m.detail.slice(0, 240)}`);
  }
  return out.join('\n');
}

export function ratchetText(misses: readonly RealMiss[], known: KnownMisses, scored: ReadonlySet<string>): { text: string; ok: boolean } {
  const { fresh, gone } = compareToKnown(misses, known, scored);
  const out: string[] = [];
  if (fresh.length) {
    out.push(`ratchet: ${fresh.length} miss(es) not in fixtures/real/known-misses.yaml:`);
    for (const m of fresh) out.push(`  ${m.half} ${m.message} [${m.kind}] ${m.half === 'heldout' ? '(held-out URL hidden)' : m.url.slice(0, 160)}`);
  }
  if (gone.length) out.push(`ratchet: ${gone.length} listed miss(es) no longer happen: shrink the list with \`npm run eval -- --update-known-misses\``);
  if (!fresh.length && !gone.length) out.push('ratchet: misses match fixtures/real/known-misses.yaml');
  return { text: out.join('\n'), ok: fresh.length === 0 };
}
