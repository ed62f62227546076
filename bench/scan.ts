/**
 * `npm run bench:scan`: engine throughput over the golden fixture mix, next to a plain mailsplit
 * split-and-join pass-through of the same bytes (the floor any MIME-preserving filter pays).
 * Prints messages/s and MB/s. Measured here, never asserted in a test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Joiner, Splitter } from '@zone-eu/mailsplit';
import { packageRoot } from '../src/paths.js';
import { rewriteMessage } from '../src/rewrite/engine.js';
import { loadRules } from '../src/rewrite/rules/index.js';
import { NO_CONSENT, type Consent } from '../src/rewrite/types.js';

const dir = join(packageRoot(), 'fixtures', 'golden');
const messages = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .sort()
  .map((f) => ({ name: f, raw: readFileSync(join(dir, f)) }));
const totalBytes = messages.reduce((n, m) => n + m.raw.length, 0);
const rules = loadRules();
const seconds = Number(process.env['BENCH_SECONDS'] ?? 3);

async function splitJoin(raw: Buffer): Promise<number> {
  let n = 0;
  await pipeline(Readable.from([raw]), new Splitter(), new Joiner(), new Writable({ write(c: Buffer, _e, cb) { n += c.length; cb(); } }));
  return n;
}

async function run(label: string, fn: (raw: Buffer) => Promise<unknown>): Promise<void> {
  for (const m of messages) await fn(m.raw); // warm-up
  const start = process.hrtime.bigint();
  let count = 0;
  let bytes = 0;
  while (Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    for (const m of messages) {
      await fn(m.raw);
      count++;
      bytes += m.raw.length;
    }
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(34)} ${(count / s).toFixed(0).padStart(7)} msg/s  ${(bytes / s / 1024 / 1024).toFixed(1).padStart(7)} MB/s`);
}

const consent = (c: Consent) => (raw: Buffer) => rewriteMessage(raw, { consent: c, rules, recipients: ['alice@example.org'] });

console.log(`fixture mix: ${messages.length} messages, ${(totalBytes / 1024).toFixed(0)} KB, ${seconds}s per row, one core (node ${process.version})`);
await run('split+join pass-through (mailsplit)', splitJoin);
await run('engine, consent none', consent(NO_CONSENT));
await run('engine, consent clicks only', consent({ opens: false, clicks: true }));
await run('engine, full consent (short-cut)', consent({ opens: true, clicks: true }));
const big = messages.find((m) => m.name.includes('newsletter-large'));
if (big) {
  const saved = messages.splice(0, messages.length, big);
  await run(`engine, ${big.name} (${(big.raw.length / 1024).toFixed(0)} KB) none`, consent(NO_CONSENT));
  messages.splice(0, 1, ...saved);
}
