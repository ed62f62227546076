import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { manyTrackers } from '../helpers/build.js';

/**
 * More findings than fit on the stack as call arguments: findings.push(...spread) failed with
 * "Maximum call stack size exceeded" from about 120,000 (65,000 in the report that found it).
 */
const TRACKERS = 150_000;
import { makeTempDir } from '../helpers/tmpdir.js';
import { GOLDEN, cli, oneErrorLine } from './run.js';

const MAILCHIMP = join(GOLDEN, '01-mailchimp-newsletter-qp.eml');
const INPUT = readFileSync(MAILCHIMP);

const BROKEN_BASE64 = [
  'From: news@example.com',
  'To: bob@example.org',
  'Subject: broken body',
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset=utf-8',
  'Content-Transfer-Encoding: base64',
  '',
  'PGh0bWw+PGltZyBzcmM9Imh0dHA6Ly94Lnk=*** not base64 @@@',
  '',
].join('\r\n');

/** `scan MAILCHIMP` with no recipient: the output other runs are compared with (run once). */
let plain: Buffer | undefined;
function plainScan(): Buffer {
  plain ??= cli(['scan', MAILCHIMP]).stdout;
  return plain;
}

let tmp: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await makeTempDir('consent-relay-cli-');
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('consent-relay scan', () => {
  it('writes the stripped message on stdout and the summary on stderr', () => {
    const r = cli(['scan', MAILCHIMP]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^From: /);
    expect(r.out).toContain('Subject: ');
    expect(r.stdout.equals(INPUT)).toBe(false);
    expect(r.out).not.toContain('consent-relay scan:');
    expect(r.err).toMatch(/^consent-relay scan: recipient \(none given\), consent: none, rules \S+\n/);
    expect(r.err).toMatch(/remove-element\s+Mailchimp\s+mailchimp\.open/);
    expect(r.err).toMatch(/\d+ tracker\(s\) acted on, message changed\n$/);
  });

  it('--out writes the message to a file and --json prints the findings', () => {
    const out = join(tmp.path, 'out.eml');
    const r = cli(['scan', MAILCHIMP, '--out', out, '--json']);
    expect(r.status).toBe(0);
    expect(r.err).toBe('');
    const report = JSON.parse(r.out) as { recipient: string | null; consent: string; changed: boolean; findings: { ruleId: string; action: string }[] };
    expect(report).toMatchObject({ recipient: null, consent: 'none', changed: true });
    expect(report.findings.length).toBeGreaterThan(0);
    for (const f of report.findings) expect(f.ruleId).toEqual(expect.any(String));
    expect(report.findings.map((f) => f.ruleId)).toContain('mailchimp.open');
    // the file holds what stdout would have held
    expect(readFileSync(out).equals(plainScan())).toBe(true);
  });

  it('--json without --out is a usage error', () => {
    const r = cli(['scan', MAILCHIMP, '--json']);
    expect(r.status).toBe(64);
    expect(oneErrorLine(r)).toMatch(/--json .* needs --out FILE/);
    expect(r.out).toBe('');
  });

  it('--recipient with full consent recorded by `consent grant` in the same --data-dir passes the message through unchanged', () => {
    const data = join(tmp.path, 'data');
    const g = cli(['consent', 'grant', 'alice@example.org', '--scope', 'opens,clicks', '--source', 'test', '--data-dir', data]);
    expect(g.status).toBe(0);
    const r = cli(['scan', MAILCHIMP, '--recipient', 'Alice@Example.org', '--data-dir', data]);
    expect(r.status).toBe(0);
    expect(r.stdout.equals(INPUT)).toBe(true);
    expect(r.err).toMatch(/recipient Alice@Example\.org, consent: opens,clicks/);
    expect(r.err).toMatch(/message unchanged/);
  });

  it('--recipient with clicks only keeps click tracking and removes the open pixel', () => {
    const data = join(tmp.path, 'data');
    expect(cli(['consent', 'grant', 'alice@example.org', '--scope', 'clicks', '--source', 'test', '-d', data]).status).toBe(0);
    const r = cli(['scan', MAILCHIMP, '-r', 'alice@example.org', '-d', data, '--out', join(tmp.path, 'o.eml'), '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.out) as { consent: string; findings: { ruleId: string; action: string }[] };
    expect(report.consent).toBe('clicks');
    expect(report.findings.filter((f) => f.action !== 'keep').map((f) => f.ruleId)).toEqual(['mailchimp.open']);
  });

  it('--recipient without a consent store means no consent, and creates no store', () => {
    const data = join(tmp.path, 'empty');
    const r = cli(['scan', MAILCHIMP, '-r', 'alice@example.org', '-d', data]);
    expect(r.status).toBe(0);
    expect(r.err).toMatch(/consent: none/);
    expect(r.stdout.equals(plainScan())).toBe(true);
    expect(cli(['consent', 'list', '-d', data]).err).toMatch(/no consent store at/);
  });

  it('reads standard input for -', () => {
    const r = cli(['scan', '-'], { input: INPUT });
    expect(r.status).toBe(0);
    expect(r.stdout.equals(plainScan())).toBe(true);
    expect(r.err).toMatch(/message changed/);
  });

  it('a missing file: exit 66 and one line saying why', () => {
    const r = cli(['scan', join(tmp.path, 'nope.eml')]);
    expect(r.status).toBe(66);
    expect(oneErrorLine(r)).toBe(`consent-relay: cannot read ${join(tmp.path, 'nope.eml')}: no such file`);
    expect(r.out).toBe('');
  });

  it('broken base64 in the HTML part: exit 65, one line, nothing on stdout (fail closed)', () => {
    const r = cli(['scan', '-'], { input: BROKEN_BASE64 });
    expect(r.status).toBe(65);
    expect(oneErrorLine(r)).toMatch(/^consent-relay: part 1: broken base64 .*; the message cannot be filtered\. Fix the sending program/);
    expect(r.out).toBe('');
  });

  it('a boundary that never occurs: exit 65 (the message, not the program, is at fault)', () => {
    const raw = INPUT.toString('latin1').replace(/boundary="?([^";\r\n]+)"?/, 'boundary="not-the-one-used"');
    const r = cli(['scan', '-'], { input: Buffer.from(raw, 'latin1') });
    expect(r.status).toBe(65);
    expect(oneErrorLine(r)).toMatch(/whose boundary never occurs/);
    expect(r.out).toBe('');
  });

  it('150,000 trackers in one message: all removed, exit 0', () => {
    const r = cli(['scan', '-'], { input: manyTrackers(TRACKERS), timeoutMs: 100_000 });
    expect(r.err.split('\n').at(-2)).toBe(`  ${TRACKERS} tracker(s) acted on, message changed`);
    expect(r.status).toBe(0);
    expect(r.out).toContain('item 149999');
    expect(r.out).not.toContain('ct.sendgrid.net/wf/open');
    expect(r.out).not.toContain('list-manage.com/track/click');
  }, 120_000);
});
