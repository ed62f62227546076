/**
 * `consent-relay scan FILE|-`: the message as one recipient would receive it, and what was
 * removed. The same engine and rules as the relay.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { SqliteConsentStore } from '../../consent/sqlite.js';
import { RelayError } from '../../errors.js';
import { toCanonical } from '../../mime/canonical.js';
import { rewriteMessage } from '../../rewrite/engine.js';
import { loadRules } from '../../rewrite/rules/index.js';
import { NO_CONSENT, consentClass, type Consent, type Finding } from '../../rewrite/types.js';
import { checkDataDir } from '../../store/dataDir.js';
import { readInput, writeStdout } from '../io.js';

export interface ScanOptions {
  readonly file: string;
  readonly recipient?: string;
  readonly out?: string;
  readonly json?: boolean;
}

export interface ScanReport {
  readonly recipient: string | null;
  readonly consent: string;
  readonly changed: boolean;
  readonly rulesVersion: string;
  readonly findings: readonly Finding[];
}

export async function scanCommand(config: Config, opts: ScanOptions): Promise<number> {
  if (opts.json && !opts.out) throw new RelayError('USAGE', '--json writes the report on stdout, so it needs --out FILE for the message');
  // read as the relay reads it: line endings made CRLF before inspection
  const raw = toCanonical(await readInput(opts.file));
  const rules = loadRules(config.rules.file);
  const consent = opts.recipient ? await lookupConsent(config.dataDir, opts.recipient) : NO_CONSENT;
  const result = await rewriteMessage(raw, {
    consent,
    rules,
    recipients: opts.recipient ? [opts.recipient] : [],
    limits: { maxDepth: config.limits.maxMimeDepth, maxParts: config.limits.maxMimeParts },
    policy: { keepCampaignParams: config.policy.keepCampaignParams, readReceipts: config.policy.readReceipts },
  });
  const report: ScanReport = { recipient: opts.recipient ?? null, consent: consentClass(consent) || 'none', changed: result.changed, rulesVersion: rules.version, findings: result.findings };
  if (opts.out) {
    try {
      writeFileSync(opts.out, result.output);
    } catch (err) {
      throw new RelayError('INPUT_UNREADABLE', `cannot write ${opts.out}: ${(err as Error).message}`);
    }
  } else {
    await writeStdout(result.output);
  }
  if (opts.json) await writeStdout(`${JSON.stringify(report, null, 2)}\n`);
  else process.stderr.write(formatSummary(report));
  return 0;
}

async function lookupConsent(dataDir: string, recipient: string): Promise<Consent> {
  // scanning must not create a store as a side effect: no store means no consent recorded
  if (!checkDataDir(dataDir, { create: false }) || !existsSync(join(dataDir, 'consent.db'))) return NO_CONSENT;
  const store = new SqliteConsentStore(dataDir);
  try {
    const map = await store.lookup([recipient]);
    return map.get(recipient.trim().toLowerCase()) ?? [...map.values()][0] ?? NO_CONSENT;
  } finally {
    await store.close();
  }
}

export function formatSummary(r: ScanReport): string {
  const lines = [`consent-relay scan: recipient ${r.recipient ?? '(none given)'}, consent: ${r.consent}, rules ${r.rulesVersion}`];
  // the engine passes a message through uninspected when every kind of tracking is consented to
  if (!r.findings.length) lines.push(r.consent === 'opens,clicks' ? '  full consent: passed through as is, not inspected' : '  no trackers found');
  for (const f of r.findings) {
    const what = f.action === 'unwrap-link' ? ` -> ${f.replacement}` : f.action === 'strip-params' ? ` (removed ${f.params?.join(', ')})` : '';
    lines.push(`  part ${f.part}  ${f.kind.padEnd(5)} ${f.technique.padEnd(15)} ${f.action.padEnd(16)} ${(f.vendor ?? '-').padEnd(20)} ${f.ruleId}${what}${f.note ? `  [${f.note}]` : ''}`);
  }
  lines.push(`  ${r.findings.filter((f) => f.action !== 'keep').length} tracker(s) acted on, ${r.changed ? 'message changed' : 'message unchanged'}`);
  return `${lines.join('\n')}\n`;
}
