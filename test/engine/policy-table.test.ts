/**
 * The policy table decides: every finding the engine reports, over every golden fixture under
 * every consent class and over the evaluation corpus, has an action its technique's row allows.
 * The vocabulary is declared once (types.ts) and the audit schema accepts exactly it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { auditEventSchema } from '../../src/audit/events.js';
import { rewriteMessage } from '../../src/rewrite/engine.js';
import { POLICY, allowedActions } from '../../src/rewrite/policy.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { ACTIONS, TECHNIQUES, type Consent, type Finding } from '../../src/rewrite/types.js';
import { corpusDir, loadLabels } from '../../bench/corpus.js';
import { loadHalf } from '../../bench/real.js';

const rules = loadRules();
const root = join(import.meta.dirname, '..', '..');
const CONSENTS: readonly Consent[] = [
  { opens: false, clicks: false },
  { opens: true, clicks: false },
  { opens: false, clicks: true },
];

interface Sample {
  readonly name: string;
  readonly raw: Buffer;
  readonly recipient: string | undefined;
}

function samples(): Sample[] {
  const out: Sample[] = [];
  const golden = join(root, 'fixtures', 'golden');
  for (const f of readdirSync(golden)
    .filter((n) => n.endsWith('.eml'))
    .sort()) {
    const yaml = YAML.parse(readFileSync(join(golden, f.replace(/\.eml$/, '.yaml')), 'utf8')) as { recipient?: string };
    out.push({ name: `golden/${f}`, raw: readFileSync(join(golden, f)), recipient: yaml.recipient });
  }
  for (const m of loadLabels().messages) out.push({ name: `corpus/${m.file}`, raw: readFileSync(join(corpusDir(), m.file)), recipient: m.recipient });
  // the development half of the real-mail set, where its bytes are on this machine (never the held-out half)
  for (const m of loadHalf('dev')) if (m.path && !m.badHash) out.push({ name: `real/dev/${m.name}`, raw: readFileSync(m.path), recipient: m.labels.recipients?.[0] });
  return out;
}

describe('the policy table', () => {
  it('has a row for every technique, each listing at least one action from the vocabulary', () => {
    expect(Object.keys(POLICY).sort()).toEqual([...TECHNIQUES].sort());
    for (const t of TECHNIQUES) {
      expect(POLICY[t].actions.length, t).toBeGreaterThan(0);
      for (const a of POLICY[t].actions) expect(ACTIONS, t).toContain(a);
    }
  });

  it('decides every finding over the golden fixtures and the corpus', async () => {
    const offences: string[] = [];
    let checked = 0;
    for (const s of samples()) {
      for (const consent of CONSENTS) {
        let findings: Finding[];
        try {
          ({ findings } = await rewriteMessage(s.raw, { consent, rules, recipients: s.recipient ? [s.recipient] : [], policy: { readReceipts: 'remove' } }));
        } catch {
          continue; // refused messages are the bad-input tests' business; nothing is sent for them
        }
        for (const f of findings) {
          checked++;
          const allowed = allowedActions(f.technique, consent);
          if (!allowed.includes(f.action)) offences.push(`${s.name} [${JSON.stringify(consent)}] ${f.technique} ${f.ruleId}: ${f.action} not in ${allowed.join('|')}`);
          // without consent a tracker stays only when the recipient needs the link, and says so
          const consented = consent[POLICY[f.technique].scope];
          if (f.action === 'keep' && !consented && !f.note?.startsWith('kept so that it keeps working')) {
            offences.push(`${s.name} [${JSON.stringify(consent)}] ${f.technique} ${f.ruleId}: kept without consent and without a needed-link reason`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(offences).toEqual([]);
  }, 180_000);
});

describe('the audit schema derives from the vocabulary', () => {
  const finding = (technique: string, action: string): unknown => ({
    type: 'finding',
    at: '2026-11-30T00:00:00Z',
    queueId: 'q1',
    consentClass: '',
    recipientHashes: [],
    kind: 'open',
    technique,
    vendor: null,
    ruleId: 'r',
    action,
    redactedUrl: 'https://example.com/…',
  });

  it.each(TECHNIQUES.map((t) => [t]))('accepts technique %s', (t) => {
    expect(auditEventSchema.safeParse(finding(t, 'keep')).success).toBe(true);
  });

  it.each(ACTIONS.map((a) => [a]))('accepts action %s', (a) => {
    expect(auditEventSchema.safeParse(finding('img', a)).success).toBe(true);
  });

  it('refuses a technique or action outside the vocabulary', () => {
    expect(auditEventSchema.safeParse(finding('img-beacon', 'keep')).success).toBe(false);
    expect(auditEventSchema.safeParse(finding('img', 'delete')).success).toBe(false);
  });
});
