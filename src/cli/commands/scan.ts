/**
 * `consent-relay scan FILE|-`: the message as one recipient would receive it, and what was
 * removed. The same engine and rules as the relay.
 *
 * `scan --campaign A.eml B.eml ...`: the files are copies of one campaign (or of several): learn
 * from all of them first, as the relay learns from the copies it sees, then filter each. The
 * campaign store is in memory and gone afterwards.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SqliteCampaignStore } from '../../campaign/sqlite.js';
import type { Config } from '../../config/schema.js';
import { SqliteConsentStore } from '../../consent/sqlite.js';
import { RelayError } from '../../errors.js';
import { toCanonical } from '../../mime/canonical.js';
import type { LearnedTemplate } from '../../rewrite/analysis/campaign.js';
import { rewriteMessage, type RewriteOptions } from '../../rewrite/engine.js';
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

export interface CampaignScanOptions {
  readonly files: readonly string[];
  readonly recipient?: string;
  /** A directory: each filtered file is written there under its own name. */
  readonly out?: string;
  readonly json?: boolean;
}

export interface CampaignScanReport {
  readonly consent: string;
  readonly rulesVersion: string;
  readonly learned: readonly LearnedTemplate[];
  readonly files: readonly { readonly file: string; readonly changed: boolean; readonly findings: readonly Finding[] }[];
}

export async function scanCampaignCommand(config: Config, opts: CampaignScanOptions): Promise<number> {
  if (opts.json && !opts.out) throw new RelayError('USAGE', '--json writes the report on stdout, so it needs --out DIR for the messages');
  if (opts.files.includes('-')) throw new RelayError('USAGE', '--campaign reads each file twice (learn, then filter): give file names, not -');
  const names = opts.files.map((f) => basename(f));
  if (new Set(names).size !== names.length) throw new RelayError('USAGE', '--campaign writes each file under its own name: two files share a name');
  const raws = await Promise.all(opts.files.map(async (f) => toCanonical(await readInput(f))));
  const rules = loadRules(config.rules.file);
  const consent = opts.recipient ? await lookupConsent(config.dataDir, opts.recipient) : NO_CONSENT;
  const store = new SqliteCampaignStore(null, { limits: { windowMs: config.campaign.window, maxCampaigns: config.campaign.maxCampaigns, maxUrlsPerCampaign: config.campaign.maxUrlsPerCampaign } });
  const learned: LearnedTemplate[] = [];
  const results: { file: string; output: Buffer; changed: boolean; findings: Finding[] }[] = [];
  try {
    const optionsFor = (raw: Buffer): RewriteOptions => {
      const head = headOf(raw);
      // offline there is no envelope: the To and Return-Path headers stand in for it
      const to = opts.recipient ?? firstAddress(header(head, 'to'));
      return {
        consent,
        rules,
        recipients: to ? [to] : [],
        limits: { maxDepth: config.limits.maxMimeDepth, maxParts: config.limits.maxMimeParts },
        policy: { keepCampaignParams: config.policy.keepCampaignParams, readReceipts: config.policy.readReceipts },
        campaign: { store, sender: firstAddress(header(head, 'return-path')) ?? '', onLearned: (t) => void learned.push(t) },
      };
    };
    // pass 1 learns from every copy; pass 2 filters each with everything learned (a copy seen
    // before is not counted again, so pass 2 adds nothing)
    for (const raw of raws) await rewriteMessage(raw, optionsFor(raw));
    for (let i = 0; i < raws.length; i++) {
      const r = await rewriteMessage(raws[i]!, optionsFor(raws[i]!));
      results.push({ file: opts.files[i]!, output: r.output, changed: r.changed, findings: r.findings });
    }
  } finally {
    await store.close();
  }
  if (opts.out) {
    try {
      mkdirSync(opts.out, { recursive: true });
      for (const [i, r] of results.entries()) writeFileSync(join(opts.out, names[i]!), r.output);
    } catch (err) {
      throw new RelayError('INPUT_UNREADABLE', `cannot write into ${opts.out}: ${(err as Error).message}`);
    }
  } else {
    for (const r of results) await writeStdout(Buffer.concat([Buffer.from(`==> ${r.file} <==\n`), r.output, Buffer.from('\n')]));
  }
  const report: CampaignScanReport = {
    consent: consentClass(consent) || 'none',
    rulesVersion: rules.version,
    learned,
    files: results.map((r) => ({ file: r.file, changed: r.changed, findings: r.findings })),
  };
  if (opts.json) await writeStdout(`${JSON.stringify(report, null, 2)}\n`);
  else {
    for (const r of results)
      process.stderr.write(`${r.file}:\n${formatSummary({ recipient: opts.recipient ?? null, consent: report.consent, changed: r.changed, rulesVersion: rules.version, findings: r.findings })}`);
    process.stderr.write(formatLearned(learned, raws.length));
  }
  return 0;
}

export function formatLearned(learned: readonly LearnedTemplate[], files: number): string {
  const lines = [`consent-relay scan --campaign: ${files} file(s), ${learned.length} per-recipient URL template(s) learned`];
  for (const t of learned) lines.push(`  campaign ${t.campaign}  ${t.host}${t.pathShape}  varies at ${t.positions.join(', ')} (after ${t.copies} copies)`);
  return `${lines.join('\n')}\n`;
}

function headOf(raw: Buffer): string {
  const end = raw.indexOf('\r\n\r\n');
  const alt = raw.indexOf('\n\n');
  const cut = end < 0 ? alt : alt < 0 ? end : Math.min(end, alt);
  return raw.subarray(0, cut < 0 ? Math.min(raw.length, 65536) : cut).toString('latin1');
}

function header(head: string, name: string): string {
  const m = new RegExp(`^${name}:[ \t]*((?:.|\r?\n[ \t])*)`, 'im').exec(head);
  return m?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim() ?? '';
}

function firstAddress(value: string): string | undefined {
  return /<([^<>@\s]+@[^<>\s]+)>/.exec(value)?.[1] ?? /[^\s<>"(),;:]+@[^\s<>"(),;:]+/.exec(value)?.[0];
}
