/**
 * `npm run bench`: end-to-end relay throughput. The relay runs as its own process (the real CLI,
 * `consent-relay serve`) on a loopback port with a discarding upstream (smtp-server) in this
 * process, and a pooled nodemailer client here sends the 51 KB HTML newsletter fixture to
 * recipients without consent (so every message is filtered). Prints messages/s and the relay's
 * peak RSS. Engine-only figures: `npm run bench:scan`.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { packageRoot } from '../src/paths.js';
import { freePort, startCountingSink, waitForPort } from './net.js';

/** Resident set size of a process, from /proc (Linux). */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const COUNT = Number(process.env['BENCH_MESSAGES'] ?? 2000);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 8);
const raw = readFileSync(join(packageRoot(), 'fixtures', 'golden', '50-newsletter-large.eml'));

const sink = await startCountingSink();
const sinkPort = sink.port;

const dataDir = mkdtempSync(join(tmpdir(), 'consent-relay-bench-'));
const port = await freePort();
writeFileSync(join(dataDir, 'relay.yaml'), `listen:\n  - address: 127.0.0.1:${port}\nupstream:\n  address: 127.0.0.1:${sinkPort}\n  maxConnections: ${CONNECTIONS}\ndataDir: ${dataDir}\nlog:\n  level: warn\n`);
const relay = spawn(process.execPath, [...(process.env['RELAY_PROF'] ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), join(packageRoot(), 'bin', 'consent-relay.js'), 'serve', '--config', join(dataDir, 'relay.yaml')], { stdio: ['ignore', 'inherit', 'inherit'] });
await waitForPort(port);

const client = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: CONNECTIONS, maxMessages: Infinity });
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(relay.pid!))), 100);

// warm-up
await Promise.all(Array.from({ length: CONNECTIONS * 2 }, (_, i) => client.sendMail({ envelope: { from: 'bench@example.com', to: [`warm${i}@example.org`] }, raw })));
const start = process.hrtime.bigint();
let failed = 0;
let next = 0;
await Promise.all(
  Array.from({ length: CONNECTIONS }, async () => {
    while (next < COUNT) {
      const i = next++;
      try {
        await client.sendMail({ envelope: { from: 'bench@example.com', to: [`r${i}@example.org`] }, raw });
      } catch {
        failed++;
      }
    }
  }),
);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
clearInterval(sampler);
console.log(`end to end: ${COUNT} messages of ${(raw.length / 1024).toFixed(0)} KB (HTML newsletter, no consent: every one filtered), ${CONNECTIONS} connections, one relay process`);
console.log(`  ${(COUNT / seconds).toFixed(0)} msg/s, ${((COUNT * raw.length) / seconds / 1024 / 1024).toFixed(1)} MB/s, ${failed} failed, ${sink.delivered()} delivered upstream, relay peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MB`);
client.close();
relay.kill('SIGTERM');
await once(relay, 'exit');
await sink.close();
rmSync(dataDir, { recursive: true, force: true });
