/**
 * `npm run bench`: end to end, in one run, on loopback (a run takes about a minute and a half):
 *
 *   sink direct        the load generator straight into the counting sink (the floor)
 *   relay, filtering   the relay as its own process (`consent-relay serve`, normal configuration:
 *                      engine workers = cores, log level info) in front of the sink
 *   relay, pass-through  the same relay, every recipient with full consent (the engine is skipped)
 *   Postfix            a private Postfix instance relaying the same load to the sink (as root;
 *                      see test/interop/postfix.ts), when Postfix is installed
 *
 * The load: Postfix's `smtp-source -d` (persistent connections) when installed, else a pooled
 * nodemailer client; the sink: Postfix's `smtp-sink`, else an smtp-server that counts. The mix:
 * the 63 KB newsletter (51 KB HTML, ~130 trackers), a short plain-text reply, a 2 MB attachment,
 * and the newsletter to 5 recipients in 3 consent classes; each phase sends the same mix and
 * ends when the sink has every copy. Then: added latency p50/p99 at half the filtering
 * throughput (a paced probe through the relay, minus the same probe straight to the sink), the
 * relay's event-loop delay while a 10 MB HTML part is filtered, and the engine alone with 1 and
 * with N workers. Absolute figures depend on the machine and its load (printed); the ratios come
 * from one run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import nodemailer from 'nodemailer';
import { SqliteConsentStore } from '../src/consent/sqlite.js';
import { createEnginePool } from '../src/pipeline/engine-pool.js';
import { packageRoot } from '../src/paths.js';
import { loadRules } from '../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../src/rewrite/types.js';
import { freePort, startCountingSink, waitForPort } from './net.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10);
/** Newsletters per phase; the other kinds in proportion. */
const SCALE = Number(process.env.BENCH_MESSAGES ?? 100);
const root = packageRoot();
const which = (name: string): string | undefined => ['/usr/sbin', '/usr/bin', '/usr/local/sbin'].map((d) => join(d, name)).find((p) => existsSync(p));
const smtpSource = which('smtp-source');
const smtpSinkBin = which('smtp-sink');
const postfixBin = which('postfix');
const isRoot = process.getuid?.() === 0;

// ------------------------------------------------------------------------------------------------
// The mix

const work = mkdtempSync(join(tmpdir(), 'consent-relay-bench-'));
chmodSync(work, 0o755);
const newsletter = readFileSync(join(root, 'fixtures', 'golden', '50-newsletter-large.eml'));
const reply = Buffer.from(
  'From: Sam <sam@example.com>\r\nTo: Kim <kim@example.org>\r\nSubject: Re: Thursday\r\nDate: Mon, 30 Nov 2026 09:12:00 +0000\r\nMessage-ID: <r1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThursday at ten works for me. See you then.\r\n\r\nSam\r\n',
);
const attachment = ((): Buffer => {
  const data = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const b64 = data.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    'From: Sam <sam@example.com>\r\nTo: Kim <kim@example.org>\r\nSubject: The report\r\nDate: Mon, 30 Nov 2026 09:12:00 +0000\r\nMessage-ID: <a1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe report is attached.\r\n\r\n--b1\r\nContent-Type: application/pdf; name="report.pdf"\r\nContent-Disposition: attachment; filename="report.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      `${b64}\r\n--b1--\r\n`,
  );
})();

interface Kind {
  readonly name: string;
  readonly raw: Buffer;
  readonly count: number;
  readonly sessions: number;
  /** Base recipient; with n > 1, smtp-source's names: r@, 2r@, 3r@, ... */
  readonly to: string;
  readonly recipients: number;
}
const MIX: readonly Kind[] = [
  { name: 'newsletter', raw: newsletter, count: SCALE, sessions: Math.max(1, Math.round(SESSIONS * 0.4)), to: 'n@example.org', recipients: 1 },
  { name: 'reply', raw: reply, count: SCALE, sessions: Math.max(1, Math.round(SESSIONS * 0.3)), to: 'p@example.org', recipients: 1 },
  { name: '2 MB attachment', raw: attachment, count: Math.max(2, Math.round(SCALE / 24)), sessions: 1, to: 'a@example.org', recipients: 1 },
  { name: '5 recipients, 3 classes', raw: newsletter, count: Math.max(2, Math.round(SCALE / 4)), sessions: Math.max(1, Math.round(SESSIONS * 0.2)), to: 'm@example.org', recipients: 5 },
];
const rcpts = (k: Kind): string[] => Array.from({ length: k.recipients }, (_, i) => (i === k.recipients - 1 ? k.to : `${k.recipients - i}${k.to}`));
const files = MIX.map((k, i) => {
  const f = join(work, `mix-${i}.eml`);
  writeFileSync(f, k.raw);
  return f;
});
const mixMessages = MIX.reduce((n, k) => n + k.count, 0);
const mixBytes = MIX.reduce((n, k) => n + k.count * k.raw.length, 0);
/** The 5-recipient message's classes: m@ full consent, 2m@ clicks only, the rest none. */
const MULTI_GRANTS: ReadonlyArray<[string, ('opens' | 'clicks')[]]> = [
  ['m@example.org', ['opens', 'clicks']],
  ['2m@example.org', ['clicks']],
];

// ------------------------------------------------------------------------------------------------
// Sink

interface Sink {
  readonly port: number;
  count(): number;
  close(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  if (smtpSinkBin) {
    const port = await freePort();
    // -c: a running count ("... mesg=N") on stdout; 1000: listen backlog
    const p = spawn(smtpSinkBin, ['-c', '-u', isRoot ? 'nobody' : String(process.env.USER ?? 'nobody'), `127.0.0.1:${port}`, '1000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let n = 0;
    p.stdout!.on('data', (d: Buffer) => {
      const all = [...d.toString('latin1').matchAll(/mesg=(\d+)/g)];
      if (all.length) n = Number(all[all.length - 1]![1]);
    });
    await waitForPort(port);
    return {
      port,
      count: () => n,
      close: async () => {
        p.kill('SIGTERM');
        await once(p, 'exit');
      },
    };
  }
  const s = await startCountingSink();
  return { port: s.port, count: () => s.delivered(), close: () => s.close() };
}

// ------------------------------------------------------------------------------------------------
// Load

/** Sends the whole mix to 127.0.0.1:port; resolves when every message got its final reply. */
async function sendMix(port: number): Promise<void> {
  if (smtpSource) {
    await Promise.all(
      MIX.map(async (k, i) => {
        const p = spawn(smtpSource, ['-d', '-s', String(k.sessions), '-m', String(k.count), '-r', String(k.recipients), '-f', 'bench@example.com', '-t', k.to, '-F', files[i]!, `127.0.0.1:${port}`], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        const [code] = (await once(p, 'exit')) as [number | null];
        if (code !== 0) throw new Error(`smtp-source (${k.name}) exited ${code}: ${err.trim().slice(0, 300)}`);
      }),
    );
    return;
  }
  await Promise.all(
    MIX.map(async (k) => {
      const client = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: k.sessions, maxMessages: Infinity, ignoreTLS: true });
      let next = 0;
      await Promise.all(
        Array.from({ length: k.sessions }, async () => {
          while (next++ < k.count) await client.sendMail({ envelope: { from: 'bench@example.com', to: rcpts(k) }, raw: k.raw });
        }),
      );
      client.close();
    }),
  );
}

async function until(cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the sink');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Phase {
  readonly label: string;
  readonly seconds: number;
  readonly msgs: number;
  readonly mb: number;
}

/** The mix into `port`; done when the sink has counted `copies` more transactions. */
async function phase(label: string, port: number, copies: number): Promise<Phase> {
  const before = sink.count();
  const t0 = process.hrtime.bigint();
  await sendMix(port);
  await until(() => sink.count() - before >= copies);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const p = { label, seconds, msgs: mixMessages / seconds, mb: mixBytes / seconds / 1024 / 1024 };
  console.log(`  ${label.padEnd(22)} ${p.msgs.toFixed(0).padStart(6)} msg/s ${p.mb.toFixed(1).padStart(7)} MB/s   (${seconds.toFixed(1)} s, load ${loadavg()[0]!.toFixed(1)})`);
  return p;
}

// ------------------------------------------------------------------------------------------------
// The relay as its own process

interface Relay {
  readonly port: number;
  readonly proc: ChildProcess;
  peakRss(): number;
  /** SIGTERM; resolves with the event-loop delay it logged when it stopped. */
  stop(): Promise<{ p50: number; p99: number; max: number } | null>;
}

async function startRelay(name: string, grants: ReadonlyArray<[string, ('opens' | 'clicks')[]]>, extra = ''): Promise<Relay> {
  const dataDir = join(work, name);
  const port = await freePort();
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, `listen:\n  - address: 127.0.0.1:${port}\nupstream:\n  address: 127.0.0.1:${sink.port}\n  maxConnections: ${SESSIONS}\ndataDir: ${dataDir}\n${extra}`);
  if (grants.length) {
    mkdirSync(dataDir, { mode: 0o700 }); // private, as the relay wants it
    const store = new SqliteConsentStore(dataDir);
    for (const [address, scopes] of grants) await store.record({ address, action: 'grant', scopes, source: 'bench', method: 'bench' });
    await store.close();
  }
  const proc = spawn(
    process.execPath,
    [...(process.env.RELAY_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RELAY_PROF}`] : []), join(root, 'bin', 'consent-relay.js'), 'serve', '--config', file],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stopped: { p50: number; p99: number; max: number } | null = null;
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    if (!line.includes('consent-relay stopped')) return;
    try {
      stopped = (JSON.parse(line) as { eventLoopDelayMs?: { p50: number; p99: number; max: number } }).eventLoopDelayMs ?? null;
    } catch {
      /* not JSON: ignore */
    }
  });
  await waitForPort(port);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(proc.pid!))), 50);
  return {
    port,
    proc,
    peakRss: () => peak,
    async stop() {
      clearInterval(sampler);
      proc.kill('SIGTERM');
      await once(proc, 'exit');
      return stopped;
    },
  };
}

/** Resident set size of a process and its threads, from /proc (Linux). */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Newsletters paced at `rate` per second over a few persistent connections; each one's time to its reply, sorted (ms). */
async function probe(port: number, rate: number, seconds: number): Promise<number[]> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: 8, maxMessages: Infinity, ignoreTLS: true });
  await client.sendMail({ envelope: { from: 'probe@example.com', to: ['warm@example.org'] }, raw: newsletter });
  const times: number[] = [];
  const sends: Promise<void>[] = [];
  const n = Math.max(10, Math.round(rate * seconds));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const s = performance.now();
    sends.push(client.sendMail({ envelope: { from: 'probe@example.com', to: [`p${i}@example.org`] }, raw: newsletter }).then(() => void times.push(performance.now() - s)));
  }
  await Promise.all(sends);
  client.close();
  return times.sort((a, b) => a - b);
}
const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? Number.NaN;

// ------------------------------------------------------------------------------------------------
// Run

const cores = availableParallelism();
console.log(
  `consent-relay bench: ${cores} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, node ${process.version}; ` + `load ${smtpSource ? 'smtp-source -d' : 'nodemailer pool'}, sink ${smtpSinkBin ? 'smtp-sink' : 'smtp-server'}, ${SESSIONS} sessions`,
);
console.log(`mix per phase: ${MIX.map((k) => `${k.count} × ${k.name} (${(k.raw.length / 1024).toFixed(0)} KB)`).join(', ')} = ${mixMessages} messages, ${(mixBytes / 1024 / 1024).toFixed(1)} MB`);

const sink = await startSink();
const multi = MIX.find((k) => k.recipients > 1)!;
const allMessages = mixMessages;
const results: Record<string, Phase> = {};
try {
  results.sink = await phase('sink direct', sink.port, allMessages);

  const filtering = await startRelay('filter', MULTI_GRANTS);
  // the relay sends one copy per consent class: 3 for the 5-recipient message
  results.filter = await phase('relay, filtering', filtering.port, allMessages + multi.count * 2);
  const filterRss = filtering.peakRss();

  // added latency at half the filtering throughput: the same paced probe through the relay and straight to the sink
  const rate = results.filter.msgs / 2;
  const viaRelay = await probe(filtering.port, rate, 5);
  const direct = await probe(sink.port, rate, 3);
  const filterLoop = await filtering.stop();

  const passGrants = MIX.flatMap((k) => rcpts(k).map((a): [string, ('opens' | 'clicks')[]] => [a, ['opens', 'clicks']]));
  const pass = await startRelay('pass', passGrants);
  results.pass = await phase('relay, pass-through', pass.port, allMessages);
  await pass.stop();

  let postfixNote = '';
  if (postfixBin && isRoot) {
    const { startPostfix } = await import('../test/interop/postfix.js');
    const pf = await startPostfix({
      relayhost: `127.0.0.1:${sink.port}`,
      name: 'bench',
      config: { default_process_limit: '200', smtp_destination_concurrency_limit: String(SESSIONS * 2), message_size_limit: '0' },
    });
    try {
      results.postfix = await phase('Postfix relaying', pf.port, allMessages);
    } finally {
      await pf.stop();
    }
  } else {
    postfixNote = postfixBin ? 'Postfix not measured: a private instance needs root' : 'Postfix not measured: not installed';
    console.log(`  ${postfixNote}`);
  }

  // the SMTP side's event loop while a 10 MB HTML part is filtered (and a trickle of other mail)
  const big = await startRelay('big', [], 'engine:\n  cpuBudget: 10m\n');
  const html = `<html><body>${Array.from({ length: 50_000 }, (_, i) => `<p>Paragraph ${i} <a href="https://example.us5.list-manage.com/track/click?u=1&amp;id=${i}&amp;e=3">read</a> <img src="https://u1.ct.sendgrid.net/wf/open?upn=${i}" width="1" height="1"></p>`).join('\r\n')}</body></html>`;
  const bigMsg = Buffer.from(
    `From: a@example.com\r\nTo: b@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${html.replace(/(.{900})/g, '$1\r\n')}\r\n`,
  );
  const bigClient = nodemailer.createTransport({ host: '127.0.0.1', port: big.port, ignoreTLS: true });
  const tb = performance.now();
  const [bigInfo] = await Promise.all([
    bigClient.sendMail({ envelope: { from: 'a@example.com', to: ['b@example.org'] }, raw: bigMsg }).then(
      (i) => i.response,
      (e: Error) => e.message,
    ),
    probe(big.port, 5, 4),
  ]);
  const bigSeconds = (performance.now() - tb) / 1000;
  bigClient.close();
  const bigLoop = await big.stop();

  // the engine alone, newsletter, no consent: 1 worker, then one per core
  const engineMs = async (workers: number): Promise<number> => {
    const pool = createEnginePool({ workers, cpuBudgetMs: 60_000 });
    const rules = loadRules();
    const opts = { consent: NO_CONSENT, rules, recipients: ['kim@example.org'] };
    await Promise.all(Array.from({ length: workers * 2 }, () => pool.engine([newsletter], opts)));
    const n = 40 * workers;
    const t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: workers * 2 }, async () => {
        while (next++ < n) await pool.engine([newsletter], opts);
      }),
    );
    const ms = (performance.now() - t) / n;
    await pool.close();
    return ms;
  };
  const one = await engineMs(1);
  const all = await engineMs(cores);

  const f = results.filter!;
  const lat = { p50: pct(viaRelay, 50) - pct(direct, 50), p99: pct(viaRelay, 99) - pct(direct, 99) };
  console.log('');
  console.log(
    `relay, filtering: ${f.msgs.toFixed(0)} msg/s, ${f.mb.toFixed(1)} MB/s, peak RSS ${(filterRss / 1024 / 1024).toFixed(0)} MB, event-loop delay p99 ${filterLoop?.p99 ?? '?'} ms (max ${filterLoop?.max ?? '?'} ms)`,
  );
  console.log(
    `added latency at ${rate.toFixed(0)} msg/s (half the filtering rate), newsletter: p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms (through the relay p50 ${pct(viaRelay, 50).toFixed(1)} / p99 ${pct(viaRelay, 99).toFixed(1)} ms, sink direct ${pct(direct, 50).toFixed(1)} / ${pct(direct, 99).toFixed(1)} ms)`,
  );
  console.log(
    `10 MB HTML part (${(bigMsg.length / 1024 / 1024).toFixed(1)} MB, 100,000 trackers) filtered in ${bigSeconds.toFixed(1)} s (reply: ${bigInfo.slice(0, 40)}): event-loop delay p99 ${bigLoop?.p99 ?? '?'} ms, max ${bigLoop?.max ?? '?'} ms`,
  );
  console.log(`engine alone, newsletter, no consent: ${one.toFixed(2)} ms/message with 1 worker, ${all.toFixed(2)} ms/message with ${cores} (throughput ×${(one / all).toFixed(2)})`);
  const ratio = (a: string, b: string): string => (results[a] && results[b] ? (results[a]!.msgs / results[b]!.msgs).toFixed(2) : '—');
  console.log(
    `ratios: filter/Postfix ${ratio('filter', 'postfix')}${postfixNote ? ` (${postfixNote})` : ''}, filter/pass-through ${ratio('filter', 'pass')}, pass-through/sink ${ratio('pass', 'sink')}, Postfix/sink ${ratio('postfix', 'sink')}`,
  );
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await sink.close();
  rmSync(work, { recursive: true, force: true });
}
