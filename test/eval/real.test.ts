/**
 * The real-mail set (fixtures/real/): its labels are well-formed and the split is by source, and the
 * ratchet holds: every miss of the engine on real mail must be listed in
 * fixtures/real/known-misses.yaml. A new miss fails here; a miss that went away only asks (in the
 * output of `npm run eval`) for the list to be shrunk with `npm run eval -- --update-known-misses`.
 *
 * The message bytes are public data that is kept outside the repository (fixtures/real/README.md
 * says where); where they are not on the machine, the ratchet cannot run and says so.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { HALVES, compareToKnown, evaluateHalf, loadHalf, readKnownMisses, type HalfReport, type LabelledMessage } from '../../bench/real.js';

const labelled: LabelledMessage[] = HALVES.flatMap((h) => loadHalf(h));
const present = labelled.filter((m) => m.path !== null && !m.badHash);

describe('real-mail labels', () => {
  it('parse against the schema (a misspelt key or label fails)', () => {
    expect(labelled.length).toBeGreaterThanOrEqual(28);
  });

  it('split by source: no source in both halves, and a pair never crosses halves', () => {
    const bySource = new Map<string, Set<string>>();
    for (const m of labelled) {
      let halves = bySource.get(m.labels.source);
      if (!halves) {
        halves = new Set();
        bySource.set(m.labels.source, halves);
      }
      halves.add(m.half);
    }
    expect([...bySource].filter(([, halves]) => halves.size > 1).map(([s]) => s)).toEqual([]);
    const names = new Set(labelled.map((m) => `${m.half}/${m.labels.message}`));
    expect(labelled.filter((m) => m.labels.pair && !names.has(`${m.half}/${m.labels.pair}`)).map((m) => m.name)).toEqual([]);
  });

  it('name messages that are on this machine with the labelled bytes', () => {
    expect(labelled.filter((m) => m.badHash).map((m) => `${m.half}/${m.name}`)).toEqual([]);
  });
});

// The message bytes are third-party data kept out of the repository (fixtures/real/README.md). Where
// they are absent the ratchet cannot run: it is then not registered at all (rather than reported as
// skipped) and the run says so loudly, so a green run without it is never mistaken for one with it.
if (present.length === 0) {
  console.warn(`real-mail ratchet NOT RUN: none of the ${labelled.length} labelled messages' bytes are on this machine (see fixtures/real/README.md, "Where the message bytes are")`);
} else {
  describe('real-mail ratchet (message bytes present)', () => {
    let reports: HalfReport[] = [];
    beforeAll(async () => {
      const rules = loadRules();
      reports = [];
      for (const h of HALVES) reports.push(await evaluateHalf(h, rules));
    }, 120_000);

    it('every labelled URL pattern matches something in its message', () => {
      expect(reports.flatMap((r) => r.warnings)).toEqual([]);
    });

    it('no miss that is not in fixtures/real/known-misses.yaml', () => {
      const misses = reports.flatMap((r) => r.misses);
      const scored = new Set(reports.flatMap((r) => r.scored));
      const { fresh, gone } = compareToKnown(misses, readKnownMisses(), scored);
      if (gone.length) console.log(`${gone.length} known miss(es) no longer happen: shrink the list with \`npm run eval -- --update-known-misses\``);
      expect(fresh.map((m) => `${m.half} ${m.message} [${m.kind}] ${m.half === 'heldout' ? '(held-out URL hidden)' : m.url}: ${m.detail}`)).toEqual([]);
    });
  });
}
