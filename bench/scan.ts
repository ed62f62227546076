/**
 * `npm run bench:scan`: engine throughput over the golden fixture mix, next to a plain mailsplit
 * split-and-join pass-through of the same bytes (the floor any MIME-preserving filter pays).
 * Prints messages/s and MB/s. Measured here, never asserted in a test.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
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
const seconds = Number(process.env.BENCH_SECONDS ?? 3);

async function splitJoin(raw: Buffer): Promise<number> {
  let n = 0;
  await pipeline(
    Readable.from([raw]),
    new Splitter(),
    new Joiner(),
    new Writable({
      write(c: Buffer, _e, cb) {
        n += c.length;
        cb();
      },
    }),
  );
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

/** CPU time (user + system) of this process's reaped children so far, in ms (Linux /proc, 10 ms ticks). */
function childCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10; // cutime, cstime (fields 16, 17), in USER_HZ=100 ticks
}

/** `consent-relay scan` start to finish on a small message, as a user runs it: wall and CPU time, medians. */
function scanCli(file: string, runs: number): void {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = childCpuMs();
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [join(packageRoot(), 'bin', 'consent-relay.js'), 'scan', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpu.push(childCpuMs() - c0);
    if (r.status !== 0) throw new Error(`scan exited ${r.status}: ${r.stderr.toString()}`);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `scan CLI, ${file.split('/').pop()} (${runs} runs): median ${median(wall).toFixed(0)} ms wall, ${median(cpu).toFixed(0)} ms CPU, best ${Math.min(...wall).toFixed(0)} ms wall  (load average ${loadavg()[0]!.toFixed(1)})`,
  );
}

scanCli(join(dir, '14-mailtrack-gmail.eml'), Number(process.env.BENCH_SCAN_RUNS ?? 7));
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
