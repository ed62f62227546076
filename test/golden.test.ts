/**
 * Golden tests: each fixtures/golden/NN-*.eml with its .yaml expectations (format in
 * fixtures/golden/README.md), plus invariants every output must keep whatever the fixture.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { rewriteMessage } from '../src/rewrite/engine.js';
import { loadRules } from '../src/rewrite/rules/index.js';
import type { Consent, Finding } from '../src/rewrite/types.js';
import { decodedText, leaves } from './helpers/mime.js';

// The fixture format is checked strictly: a misspelt key (`presnt:`) would otherwise drop a check
// silently and the fixture would pass while proving nothing.
const ExpectedFinding = z.strictObject({
  kind: z.string().optional(),
  technique: z.string().optional(),
  action: z.string().optional(),
  vendor: z.string().optional(),
});
type ExpectedFinding = z.infer<typeof ExpectedFinding>;
const Case = z.strictObject({
  consent: z.enum(['none', 'opens', 'clicks', 'full']),
  changed: z.boolean(),
  findings: z.array(ExpectedFinding).optional(),
  exact: z.boolean().optional(),
  absent: z.array(z.string().min(1)).optional(),
  present: z.array(z.string().min(1)).optional(),
  note: z.string().optional(),
});
type Case = z.infer<typeof Case>;
const Fixture = z.strictObject({
  description: z.string().min(1),
  recipient: z.string().optional(),
  cases: z.array(Case).min(1),
});

const CONSENT: Record<Case['consent'], Consent> = {
  none: { opens: false, clicks: false },
  opens: { opens: true, clicks: false },
  clicks: { opens: false, clicks: true },
  full: { opens: true, clicks: true },
};

const dir = join(import.meta.dirname, '..', 'fixtures', 'golden');
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .sort();
const rules = loadRules();

function unmatched(expected: ExpectedFinding[], actual: Finding[]): { missing: ExpectedFinding[]; extra: Finding[] } {
  const pool = [...actual];
  const missing: ExpectedFinding[] = [];
  // most specific expectations first, so a vendor-less entry does not take a vendor's finding
  const order = [...expected].sort((a, b) => Object.keys(b).length - Object.keys(a).length);
  for (const e of order) {
    const i = pool.findIndex(
      (f) =>
        (e.kind === undefined || f.kind === e.kind) &&
        (e.technique === undefined || f.technique === e.technique) &&
        (e.action === undefined || f.action === e.action) &&
        (e.vendor === undefined || f.vendor === e.vendor),
    );
    if (i < 0) missing.push(e);
    else pool.splice(i, 1);
  }
  return { missing, extra: pool };
}

const brief = (f: Finding): string => `${f.kind}/${f.technique}/${f.action}/${f.vendor ?? '-'}/${f.ruleId} ${f.url.slice(0, 90)}`;

it('has at least 30 golden fixtures', () => {
  expect(names.length).toBeGreaterThanOrEqual(30);
});

describe.each(names)('%s', (name) => {
  const raw = readFileSync(join(dir, name));
  const parsed = Fixture.safeParse(YAML.parse(readFileSync(join(dir, name.replace(/\.eml$/, '.yaml')), 'utf8')));
  it('has a well-formed expectation file', () => {
    expect(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
  });
  if (!parsed.success) return;
  const fixture = parsed.data;

  it.each(fixture.cases.map((c) => [c.consent, c] as const))('consent %s', async (_label, c) => {
    const result = await rewriteMessage(raw, { consent: CONSENT[c.consent], rules, recipients: fixture.recipient ? [fixture.recipient] : [] });
    const findings = result.findings;
    const { missing, extra } = unmatched(c.findings ?? [], findings);
    expect(missing, `expected findings not reported; got:\n${findings.map(brief).join('\n')}`).toEqual([]);
    if (c.exact) expect(extra.map(brief), 'findings not expected').toEqual([]);
    for (const f of findings) expect(f.ruleId, 'every finding carries its rule id').toMatch(/\S/);

    expect(result.changed, 'changed').toBe(c.changed);
    if (!c.changed) expect(result.output.equals(raw), 'unchanged output is the input, byte for byte').toBe(true);

    const text = await decodedText(result.output);
    for (const s of c.absent ?? []) expect(text.includes(s), `"${s}" must be gone`).toBe(false);
    for (const s of c.present ?? []) expect(text.includes(s), `"${s}" must be present`).toBe(true);

    // invariants: CRLF only, same structure, non-text parts byte-identical
    if (result.changed) {
      expect(/(^|[^\r])\n/.test(result.output.toString('latin1')), 'bare LF in output').toBe(false);
      const before = await leaves(raw);
      const after = await leaves(result.output);
      expect(after.map((l) => `${l.part} ${l.contentType}`)).toEqual(before.map((l) => `${l.part} ${l.contentType}`));
      after.forEach((l, i) => {
        if (!l.contentType.startsWith('text/') && !l.contentType.startsWith('message/')) expect(l.raw.equals(before[i]!.raw), `part ${l.part} untouched`).toBe(true);
      });
      const [p1, p2] = await Promise.all([simpleParser(raw, { keepCidLinks: true }), simpleParser(result.output, { keepCidLinks: true })]);
      // attachments are byte-identical; only inline forwarded messages are mail and filtered too
      const files = (p: typeof p1) => p.attachments.filter((a) => !a.contentType.startsWith('message/') || a.contentDisposition === 'attachment').map((a) => [a.contentType, a.size, a.checksum]);
      expect(files(p2)).toEqual(files(p1));
      expect(p2.attachments.length).toBe(p1.attachments.length);
      expect(p2.subject).toBe(p1.subject);
      expect(p2.headerLines).toEqual(p1.headerLines);
    }
  });
});
