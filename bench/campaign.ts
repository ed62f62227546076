/**
 * `npm run bench:campaign`: what campaign learning costs the engine. Copies of one newsletter,
 * each with its own recipient token in every URL (as a bulk tool sends them), filtered without a
 * campaign store and with a SQLite one on disk. Prints ms per copy for both, the store's size on
 * disk and the process's peak RSS. Measured here, never asserted in a test.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteCampaignStore } from '../src/campaign/sqlite.js';
import type { CampaignStore } from '../src/campaign/store.js';
import { rewriteMessage } from '../src/rewrite/engine.js';
import { loadRules } from '../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../src/rewrite/types.js';

const COPIES = Number(process.env.BENCH_COPIES ?? 200);
const LINKS = 200;
const rules = loadRules();

/**
 * Copy i of a newsletter on the sender's own (unknown) hosts: LINKS product links through a
 * redirector with the recipient's token in the path, each also direct with `?u=token`, and a
 * banner image with the token; about 50 KB of HTML. Nothing but campaign learning catches these.
 */
function copy(i: number): Buffer {
  const token = (((i + 1) * 2654435761) % 4294967296).toString(36);
  const rows: string[] = [];
  for (let k = 0; k < LINKS; k++) {
    rows.push(
      `<tr><td><p>Product ${k}: a fine thing for a cold day, in several colours and sizes.</p><a href="https://go.brand.example/r/${token}/${k}">Buy</a> <a href="https://www.brand.example/p/${k}?src=nl&amp;u=${token}">Details</a></td></tr>`,
    );
  }
  const html = `<!DOCTYPE html><html><body><img src="https://img.brand.example/b/${token}.png" width="600" height="200" alt="Sale"><table>${rows.join('\n')}</table></body></html>`;
  return Buffer.from(
    [
      `From: Brand <news@brand.example>`,
      `To: user${i}@example.org`,
      `Subject: The winter sale`,
      `Message-ID: <${i}.${token}@brand.example>`,
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: 7bit',
      '',
      html,
      '',
    ].join('\r\n'),
  );
}

const copies = Array.from({ length: COPIES }, (_v, i) => copy(i));
const urls = 2 * LINKS + 1;

async function run(label: string, sqlite: SqliteCampaignStore | null): Promise<void> {
  // the store's own share, apart from classifying and editing the 400 findings it leads to
  let storeNs = 0n;
  const store: CampaignStore | null = sqlite && {
    observe: async (c, now) => {
      const t = process.hrtime.bigint();
      const r = await sqlite.observe(c, now);
      storeNs += process.hrtime.bigint() - t;
      return r;
    },
    size: (now) => sqlite.size(now),
    close: () => sqlite.close(),
  };
  const start = process.hrtime.bigint();
  let stripped = 0;
  for (const [i, raw] of copies.entries()) {
    const r = await rewriteMessage(raw, { consent: NO_CONSENT, rules, recipients: [`user${i}@example.org`], ...(store ? { campaign: { store, sender: 'news@example.com' } } : {}) });
    stripped += r.findings.filter((f) => f.ruleId === 'campaign.varying-position').length;
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const storeMs = Number(storeNs) / 1e6 / COPIES;
  console.log(
    `${label.padEnd(26)} ${(ms / COPIES).toFixed(2).padStart(7)} ms/copy${sqlite ? ` (store ${storeMs.toFixed(2)})` : ''}  (${COPIES} copies, ${urls} URLs each; campaign findings: ${stripped})`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'consent-relay-bench-'));
try {
  await run('without campaign store', null);
  const store = new SqliteCampaignStore(dir);
  await run('with campaign store', store);
  await store.close();
  const size = ['campaigns.db', 'campaigns.db-wal'].reduce((n, f) => {
    try {
      return n + statSync(join(dir, f)).size;
    } catch {
      return n;
    }
  }, 0);
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  console.log(`campaigns.db + wal: ${(size / 1024).toFixed(0)} KB; peak RSS ${peak ? (Number(peak) / 1024).toFixed(0) : '?'} MB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
