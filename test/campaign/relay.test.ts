/**
 * Campaign learning end to end: three copies of one newsletter, one per recipient as bulk tools
 * send them, through the real relay over SMTP to a recording upstream; then `scan --campaign` on
 * the same three files, and the learned templates in `audit list`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import type { CampaignStore } from '../../src/campaign/store.js';
import { RelayError } from '../../src/errors.js';
import { cli } from '../cli/run.js';
import { relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { startUpstream, type RecordingUpstream } from '../helpers/upstream.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'campaign');
const COPIES = [
  { file: 'november-alice.eml', to: 'alice@example.org', tokens: ['q7Zk2', 'Xk3p9', 'u=a8f3'] },
  { file: 'november-bob.eml', to: 'bob@example.org', tokens: ['Lm4tR', 'Pq8sW', 'u=c2d9'] },
  { file: 'november-carol.eml', to: 'carol@example.org', tokens: ['Vb6nH', 'Ty2eK', 'u=f7e1'] },
];
const KEPT = ['https://cdn.shop.example/img/logo.png', 'https://www.shop.example/about', 'utm_campaign=nov26', 'src=nl', 'See the picks'];

/** The message without the unsubscribe link, which keeps its recipient parameter on purpose. */
const withoutUnsubscribe = (raw: Buffer): string => raw.toString('latin1').replace(/https:\/\/www\.shop\.example\/unsubscribe\?u=[0-9a-f]+/g, '');

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
beforeEach(async () => {
  tmp = await makeTempDir();
  up = await startUpstream();
});
afterEach(async () => {
  await up.close();
  await tmp.cleanup();
});

describe('the relay learns from the copies it sees', () => {
  it('the second and third copies reach the upstream without the per-recipient values; the audit log lists the templates', async () => {
    const relay = await startTestRelay(relayConfig(tmp.path, up.port, { campaign: { enabled: true } }));
    try {
      for (const [i, c] of COPIES.entries()) {
        // a VERP envelope sender, different for every copy, as bulk tools use
        const r = await send(relay.port, `bounce+${c.to.replace('@', '=')}@mail.shop.example`, [c.to], readFileSync(join(DIR, c.file)));
        expect(r.code).toBe(250);
        await up.waitFor(i + 1, 5000);
      }
    } finally {
      await relay.close();
    }
    const received = up.received.map((m) => ({ to: m.to[0], raw: m.raw }));
    expect(received.map((m) => m.to)).toEqual(COPIES.map((c) => c.to));
    // the first copy: nothing was known yet
    for (const t of COPIES[0]!.tokens) expect(received[0]!.raw.toString('latin1')).toContain(t);
    for (const i of [1, 2]) {
      const out = received[i]!.raw.toString('latin1');
      for (const t of COPIES[i]!.tokens) expect(withoutUnsubscribe(received[i]!.raw)).not.toContain(t);
      for (const k of KEPT) expect(out).toContain(k);
      expect(out).toContain(`https://www.shop.example/unsubscribe?${COPIES[i]!.tokens[2]}`);
    }

    const log = new SqliteAuditLog(tmp.path);
    try {
      const templates = await log.list({ type: 'campaign-template' });
      expect(templates.map((t) => (t.type === 'campaign-template' ? `${t.host}${t.pathShape}` : '')).sort()).toEqual([
        'go.shop.example/r/{v}/*',
        'media.shop.example/i/{v}',
        'www.shop.example/sale?src=*&u={v}&utm_campaign=*',
        'www.shop.example/unsubscribe?u={v}',
      ]);
      const findings = await log.list({ type: 'finding' });
      expect(findings.filter((f) => f.type === 'finding' && f.ruleId === 'campaign.varying-position').length).toBeGreaterThan(0);
      // no value of any copy reached the audit log
      const all = JSON.stringify(await log.list());
      for (const c of COPIES) for (const t of c.tokens) expect(all).not.toContain(t);
    } finally {
      await log.close();
    }

    const listed = cli(['audit', 'list', '-d', tmp.path, '--type', 'campaign-template']);
    expect(listed.status).toBe(0);
    expect(listed.out).toMatch(/campaign-template .*campaign [0-9a-f]{12}: go\.shop\.example\/r\/\{v\}\/\* varies at path 2 \(2 copies\)/);
  });

  it('campaign learning off (the default) learns nothing and creates no campaign store', async () => {
    const relay = await startTestRelay(relayConfig(tmp.path, up.port));
    try {
      for (const [i, c] of COPIES.entries()) {
        expect((await send(relay.port, 'news@shop.example', [c.to], readFileSync(join(DIR, c.file)))).code).toBe(250);
        await up.waitFor(i + 1, 5000);
      }
    } finally {
      await relay.close();
    }
    for (const t of COPIES[2]!.tokens) expect(up.received[2]!.raw.toString('latin1')).toContain(t);
    expect(readdirSync(tmp.path)).not.toContain('campaigns.db');
  });
});

describe('fail closed', () => {
  it('a campaign store that cannot answer: 451, nothing delivered', async () => {
    const failing: CampaignStore = {
      observe: async () => {
        throw new RelayError('CAMPAIGN_STORE_UNAVAILABLE', 'campaign store unavailable: database is locked');
      },
      size: async () => 0,
      close: async () => undefined,
    };
    const relay = await startTestRelay(relayConfig(tmp.path, up.port, { campaign: { enabled: true } }), { campaignStore: failing });
    try {
      const r = await send(relay.port, 'news@shop.example', [COPIES[0]!.to], readFileSync(join(DIR, COPIES[0]!.file)));
      expect(r.code).toBe(451);
      expect(r.response).toMatch(/^451 4\.3\.0 campaign store unavailable/);
    } finally {
      await relay.close();
    }
    expect(up.attempts).toHaveLength(0);
  });
});

describe('consent-relay scan --campaign', () => {
  it('learns from all files, then writes each filtered, and reports the learned templates', () => {
    const out = join(tmp.path, 'out');
    const r = cli(['scan', '--campaign', ...COPIES.map((c) => join(DIR, c.file)), join(DIR, 'recipes-alice.eml'), '--out', out]);
    expect(r.status).toBe(0);
    // every copy, the first one too: offline, all copies are known before any is written
    for (const c of COPIES) {
      const filtered = readFileSync(join(out, c.file));
      for (const t of c.tokens) expect(withoutUnsubscribe(filtered)).not.toContain(t);
      for (const k of KEPT) expect(filtered.toString('latin1')).toContain(k);
    }
    // the other newsletter was not merged with them: unchanged
    expect(readFileSync(join(out, 'recipes-alice.eml')).equals(readFileSync(join(DIR, 'recipes-alice.eml')))).toBe(true);
    expect(r.err).toContain('4 file(s), 4 per-recipient URL template(s) learned');
    expect(r.err).toMatch(/go\.shop\.example\/r\/\{v\}\/\*\s+varies at path 2/);
    expect(r.err).toMatch(/www\.shop\.example\/sale\?src=\*&u=\{v\}&utm_campaign=\*\s+varies at query u/);
  });

  it('--json reports the templates and per-file findings', () => {
    const r = cli(['scan', '--campaign', ...COPIES.map((c) => join(DIR, c.file)), '--out', join(tmp.path, 'o'), '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.out) as { learned: { host: string }[]; files: { file: string; changed: boolean; findings: { ruleId: string }[] }[] };
    expect(report.learned.map((t) => t.host).sort()).toEqual(['go.shop.example', 'media.shop.example', 'www.shop.example', 'www.shop.example']);
    expect(report.files.every((f) => f.changed && f.findings.some((x) => x.ruleId === 'campaign.varying-position'))).toBe(true);
  });

  it('several files without --campaign are a usage error', () => {
    const r = cli(['scan', ...COPIES.map((c) => join(DIR, c.file))]);
    expect(r.status).toBe(64);
    expect(r.err).toMatch(/need --campaign/);
  });
});
