/**
 * `npm run bench:memory`: memory under large messages. The relay runs as its own process (the real
 * CLI) with a discarding upstream here; 12 clients send a 49 MB message each at the same time (an
 * HTML part with trackers plus a big base64 attachment, to recipients without consent, so every one
 * is filtered), and one small message is sent while they are in flight. Then, on a fresh relay, one
 * message whose 49 MB are a single HTML part (all of it inspected text). Prints the relay's peak
 * RSS (VmHWM), how many got 250 / 452 / something else, and how long the small message waited.
 *
 *   BENCH_LARGE=12 BENCH_SIZE_MB=49 BENCH_BUDGET=256MB BENCH_HTML=1 npm run bench:memory
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { packageRoot } from '../src/paths.js';
import { freePort, startCountingSink, waitForPort } from './net.js';

const LARGE = Number(process.env.BENCH_LARGE ?? 12);
const SIZE = Number(process.env.BENCH_SIZE_MB ?? 49) * 1_000_000;
const BUDGET = process.env.BENCH_BUDGET;
// the 12 senders share this one process, and each spends seconds of CPU dot-stuffing its 49 MB in
// one go, during which its own connection is silent: a longer grace keeps smtp.minDataRate from
// cutting off clients that this bench starves (the default is used when BENCH_RATE_GRACE=default)
const RATE_GRACE = process.env.BENCH_RATE_GRACE === 'default' ? '' : `smtp:\n  dataRateGrace: ${process.env.BENCH_RATE_GRACE ?? '60s'}\n`;

/** VmHWM (peak resident set) and VmRSS of a process, in bytes (Linux). */
function memOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

/** A newsletter (HTML with a pixel and tracked links) with a base64 attachment filling it up to `size` bytes. */
function largeMessage(size: number): Buffer {
  const html = [
    '<html><body><p>Quarterly report attached.</p>',
    '<a href="https://example.us5.list-manage.com/track/click?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=3c5e7a9b1d&e=f1e2d3c4b5">Read online</a>',
    '<img src="https://example.us5.list-manage.com/track/open.php?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=3c5e7a9b1d&e=f1e2d3c4b5" width="1" height="1">',
    '</body></html>',
  ].join('\r\n');
  const head = [
    'From: Reports <reports@example.com>',
    'To: someone@example.org',
    'Subject: Quarterly report',
    'Message-ID: <large@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="mixed"',
    '',
    '--mixed',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    html,
    '--mixed',
    'Content-Type: application/octet-stream; name="report.bin"',
    'Content-Disposition: attachment; filename="report.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    '',
  ].join('\r\n');
  const tail = '\r\n--mixed--\r\n';
  const b64Bytes = size - head.length - tail.length;
  const lines = Math.floor(b64Bytes / 78);
  const b64 = randomBytes(Math.ceil((lines * 76 * 3) / 4))
    .toString('base64')
    .slice(0, lines * 76);
  const body = b64.replace(/.{76}/g, '$&\r\n');
  return Buffer.concat([Buffer.from(head), Buffer.from(body, 'latin1'), Buffer.from(tail)]);
}

/** A message of about `size` bytes that is one HTML part: every byte of it is inspected. */
function htmlMessage(size: number): Buffer {
  const head =
    'From: Reports <reports@example.com>\r\nTo: someone@example.org\r\nSubject: Long report\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<img src="https://example.us5.list-manage.com/track/open.php?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=3c5e7a9b1d&e=f1e2d3c4b5" width="1" height="1">\r\n';
  const para = '<p>Quarterly figures, region by region, with the notes the board asked for and a few more words.</p>\r\n';
  return Buffer.from(head + para.repeat(Math.ceil((size - head.length) / para.length)));
}

const sink = await startCountingSink();
const sinkPort = sink.port;

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`;

/** One relay process, `messages` sent at once (and a small one 1.5 s in): replies, peak RSS, the small one's wait. */
async function run(label: string, messages: Buffer[]): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'consent-relay-bench-mem-'));
  const port = await freePort();
  writeFileSync(
    join(dataDir, 'relay.yaml'),
    `listen:\n  - address: 127.0.0.1:${port}\nupstream:\n  address: 127.0.0.1:${sinkPort}\n  maxConnections: ${LARGE}\n  socketTimeout: 5m\ndataDir: ${dataDir}\n${RATE_GRACE}log:\n  level: warn\n${BUDGET ? `limits:\n  memoryBudget: ${BUDGET}\n` : ''}`,
  );
  const relay = spawn(process.execPath, [join(packageRoot(), 'bin', 'consent-relay.js'), 'serve', '--config', join(dataDir, 'relay.yaml')], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitForPort(port);
  await new Promise((r) => setTimeout(r, 500));
  const idle = memOf(relay.pid!).now;

  const small = readFileSync(join(packageRoot(), 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));
  const codes = new Map<string, number>();
  const sendOne = async (msg: Buffer, to: string): Promise<string> => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, socketTimeout: 300_000 });
    try {
      const info = await t.sendMail({ envelope: { from: 'bench@example.com', to: [to] }, raw: msg });
      return info.response.slice(0, 3);
    } catch (err) {
      const e = err as { responseCode?: number; code?: string; message?: string };
      if (process.env.BENCH_DEBUG) console.error(e.code, e.message);
      return e.responseCode ? String(e.responseCode) : (e.code ?? 'error');
    } finally {
      t.close();
    }
  };

  const start = Date.now();
  const delivered0 = sink.delivered();
  const large = messages.map((raw, i) =>
    sendOne(raw, `r${i}@example.org`).then((code) => {
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }),
  );
  // a small message once the large ones are streaming in
  await new Promise((r) => setTimeout(r, 1500));
  const smallStart = Date.now();
  const smallCode = await sendOne(small, 'small@example.org');
  const smallMs = Date.now() - smallStart;
  await Promise.all(large);
  const seconds = (Date.now() - start) / 1000;
  const mem = memOf(relay.pid!);
  console.log(`memory: ${label}, one relay process${BUDGET ? `, limits.memoryBudget ${BUDGET}` : ''}`);
  console.log(`  replies: ${[...codes].map(([c, n]) => `${n}×${c}`).join(', ')}; ${sink.delivered() - delivered0 - (smallCode === '250' ? 1 : 0)} large delivered upstream; ${seconds.toFixed(1)} s`);
  console.log(`  small message sent meanwhile: ${smallCode} after ${smallMs} ms`);
  console.log(`  relay RSS: idle ${mb(idle)}, peak ${mb(mem.peak)}`);
  relay.kill('SIGTERM');
  await once(relay, 'exit');
  rmSync(dataDir, { recursive: true, force: true });
}

const raw = largeMessage(SIZE);
await run(
  `${LARGE} concurrent messages of ${(raw.length / 1e6).toFixed(1)} MB (HTML with trackers + base64 attachment, no consent)`,
  Array.from({ length: LARGE }, () => raw),
);
if (process.env.BENCH_HTML !== '0') {
  const html = htmlMessage(SIZE);
  await run(`one message of ${(html.length / 1e6).toFixed(1)} MB that is all HTML (inspected text)`, [html]);
}
await sink.close();
