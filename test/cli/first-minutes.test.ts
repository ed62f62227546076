/**
 * The README's one-minute try, run as written: `consent-relay sink` as the upstream, `serve` in
 * front of it, the sample newsletter sent with curl, then `audit list` to see what was removed and
 * for whom. Also the start-up warning a newcomer gets when nothing answers on the upstream port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, spawnRelay, type RelayProcess } from '../helpers/process.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { BIN, GOLDEN, ROOT, cli } from './run.js';

let tmp: { path: string; cleanup: () => Promise<void> };
const children: ChildProcess[] = [];
const relays: RelayProcess[] = [];

beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  for (const r of relays.splice(0)) {
    r.child.kill('SIGTERM');
    await r.exited;
  }
  for (const c of children.splice(0)) {
    c.kill('SIGTERM');
    if (c.exitCode === null) await new Promise((r) => c.once('exit', r));
  }
  await tmp.cleanup();
});

/** `consent-relay sink`, resolved once it says it is accepting mail. */
async function startSinkProcess(port: number, dir: string): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [BIN, 'sink', '--listen', `127.0.0.1:${port}`, '--dir', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`sink did not start:\n${out}`)), 15_000);
    child.stdout!.on('data', () => {
      if (out.includes('accepting mail on')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`sink exited ${code}:\n${out}`));
    });
  });
  return { child, out: () => out };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe('the one-minute try from the README', () => {
  it('sink + serve + curl: the newsletter arrives without its trackers and the audit log says for whom', async () => {
    const [sinkPort, relayPort] = [await freePort(), await freePort()];
    const sinkDir = join(tmp.path, 'sink');
    const dataDir = join(tmp.path, 'data');
    const sink = await startSinkProcess(sinkPort, sinkDir);
    const relay = await spawnRelay(['--listen', `127.0.0.1:${relayPort}`, '--upstream', `127.0.0.1:${sinkPort}`, '--data-dir', dataDir]);
    relays.push(relay);

    const newsletter = join(GOLDEN, '01-mailchimp-newsletter-qp.eml');
    const curl = spawnSync('curl', ['-sS', `smtp://127.0.0.1:${relayPort}`, '--mail-from', 'you@example.com', '--mail-rcpt', 'alice@example.org', '--upload-file', newsletter], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(curl.error, 'curl must be installed (.ci/install-interop.sh)').toBeUndefined();
    expect(curl.status, curl.stderr).toBe(0);

    await until(() => sink.out().includes('stored '), 'the sink to store the message');
    const stored = readdirSync(sinkDir).filter((f) => f.endsWith('.eml'));
    expect(stored).toHaveLength(1);
    const delivered = readFileSync(join(sinkDir, stored[0]!), 'latin1');
    // what the relay did: the Mailchimp pixel and click tracking are gone, the unsubscribe link stays
    expect(readFileSync(newsletter, 'latin1')).toContain('list-manage.com/track/');
    expect(delivered.replace(/=\r\n/g, '')).not.toContain('list-manage.com/track/');
    expect(delivered.replace(/=\r\n/g, '')).toContain('list-manage.com/unsubscribe?u=');
    expect(delivered).toMatch(/^Received: from /);
    const envelope = JSON.parse(readFileSync(join(sinkDir, `${stored[0]!}.envelope.json`), 'utf8')) as { mailFrom: string; rcptTo: string[] };
    expect(envelope).toEqual({ mailFrom: 'you@example.com', rcptTo: ['alice@example.org'] });

    // the README's last step: what was removed, and for whom
    const audit = cli(['audit', 'list', '--data-dir', dataDir, '--recipient', 'alice@example.org', '--type', 'finding', '--format', 'json']);
    expect(audit.status, audit.err).toBe(0);
    const rows = JSON.parse(audit.out) as Array<{ vendor?: string | null; kind: string; action: string; count: number }>;
    // rows are grouped per technique and URL with a count; the fixture has 1 pixel and 4 click links
    expect(rows.reduce((n, r) => n + r.count, 0)).toBe(5);
    expect(rows.every((r) => r.vendor === 'Mailchimp')).toBe(true);
    expect(rows.filter((r) => r.kind === 'open').map((r) => r.action)).toEqual(['remove-element']);
  });

  it('the sink refuses to listen beyond loopback', () => {
    const r = cli(['sink', '--listen', '0.0.0.0:2526', '--dir', join(tmp.path, 's')]);
    expect(r.status).toBe(78);
    expect(r.err).toMatch(/loopback only/);
  });
});

describe('the upstream is looked at when the relay starts', () => {
  it('says in one line that nothing answers, and how to try without an MTA', async () => {
    const [closed, relayPort] = [await freePort(), await freePort()];
    const relay = await spawnRelay(['--listen', `127.0.0.1:${relayPort}`, '--upstream', `127.0.0.1:${closed}`, '--data-dir', join(tmp.path, 'data')]);
    relays.push(relay);
    await until(() => relay.log().includes('does not answer'), 'the upstream warning');
    const line = relay
      .log()
      .split('\n')
      .find((l) => l.includes('does not answer'))!;
    const entry = JSON.parse(line) as { level: number; msg: string };
    expect(entry.level).toBe(40); // pino's warn
    expect(entry.msg).toContain(`upstream 127.0.0.1:${closed} does not answer (ECONNREFUSED)`);
    expect(entry.msg).toContain('consent-relay sink');
  });

  it('says nothing when the upstream greets', async () => {
    const [sinkPort, relayPort] = [await freePort(), await freePort()];
    await startSinkProcess(sinkPort, join(tmp.path, 'sink'));
    const relay = await spawnRelay(['--listen', `127.0.0.1:${relayPort}`, '--upstream', `127.0.0.1:${sinkPort}`, '--data-dir', join(tmp.path, 'data')]);
    relays.push(relay);
    // a positive probe is silent; the probe's own connection reaches the sink and is answered in
    // far less than the warning's 3 s timeout, so 4 s without a warning means none is coming
    await new Promise((r) => setTimeout(r, 4000));
    expect(relay.log()).not.toContain('does not answer');
  });
});
