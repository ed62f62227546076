/**
 * Detection quality over the labelled corpus (fixtures/corpus/): a regression in recall, unwrapping
 * or false positives fails here. `npm run eval` prints the full tables and every miss.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { TARGETS, evaluate, formatReport, type EvalReport } from '../../bench/eval.js';

let report: EvalReport;

beforeAll(async () => {
  report = await evaluate();
}, 120_000);

const misses = (): string => `\n${formatReport(report)}`;

describe('evaluation corpus', () => {
  it('has at least 150 messages, 40 of them legitimate', () => {
    expect(report.messages).toBeGreaterThanOrEqual(150);
    expect(report.legitMessages).toBeGreaterThanOrEqual(40);
  });

  it('has consistent labels', () => {
    expect(report.labelWarnings).toEqual([]);
  });

  it('covers every vendor family and many techniques', () => {
    expect(Object.keys(report.byFamily).sort()).toEqual(['automation', 'esp', 'generic', 'legit', 'sales', 'testing', 'wrapper']);
    expect(Object.keys(report.byTechnique).length).toBeGreaterThanOrEqual(20);
  });

  it('is filtered without errors', () => {
    expect(report.errors).toEqual([]);
  });
});

describe('engine quality (consent: none)', () => {
  it(`removes at least ${TARGETS.recall * 100}% of trackers`, () => {
    expect(report.overall.recall, misses()).toBeGreaterThanOrEqual(TARGETS.recall);
  });

  it(`unwraps at least ${TARGETS.unwrap * 100}% of decodable links to their exact destination`, () => {
    expect(report.overall.unwrapRate, misses()).toBeGreaterThanOrEqual(TARGETS.unwrap);
  });

  it(`changes at most ${TARGETS.falsePositiveRate * 100}% of legitimate URLs`, () => {
    expect(report.overall.falsePositiveRate, misses()).toBeLessThanOrEqual(TARGETS.falsePositiveRate);
  });
});
