/**
 * Data at rest is private: the relay refuses a data directory others can enter (exit 78, one
 * line), makes a missing one 0700, and every file it creates or finds of its own in it is 0600,
 * every directory 0700, whatever the umask. Checked on the real relay process and in-process
 * (where the CLI's own umask does not help), after real SMTP traffic so that SQLite's -wal and
 * -shm files and a spool entry exist.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { cli, oneErrorLine } from '../cli/run.js';
import { freePort, spawnRelay, type RelayProcess } from '../helpers/process.js';
import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { reply, startUpstream, type RecordingUpstream } from '../helpers/upstream.js';

const MESSAGE = Buffer.from(
  'From: Sales <sales@example.com>\r\nTo: list@example.org\r\nSubject: modes\r\nMessage-ID: <modes@example.com>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi<img src="https://example.us1.list-manage.com/track/open.php?u=1&id=2&e=3" width="1" height="1"></p>\r\n',
);

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const procs: RelayProcess[] = [];
beforeEach(async () => {
  tmp = await makeTempDir();
  up = await startUpstream();
  // one recipient is deferred, so a spool entry is written too
  up.setBehaviour((s) => (s.stage === 'rcpt' && s.address === 'later@example.org' ? reply(451, '4.2.0 mailbox busy') : 'accept'));
});
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await up.close();
  await tmp.cleanup();
});

/** Every path under (and including) `dir` with its permission bits, e.g. ["data/spool", 0o700]. */
function modes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (p: string, rel: string): void => {
    const st = lstatSync(p);
    out.set(rel, st.mode & 0o777);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n), `${rel}/${n}`);
  };
  walk(dir, 'data');
  return out;
}

function expectPrivate(dir: string, mustHave: readonly string[]): void {
  const m = modes(dir);
  for (const name of mustHave) expect([...m.keys()], `${name} exists`).toContain(name);
  const wrong = [...m].filter(([p, mode]) => {
    const isDir = lstatSync(join(dir, '..', p)).isDirectory();
    return mode !== (isDir ? 0o700 : 0o600);
  });
  expect(wrong.map(([p, mode]) => `${p} ${mode.toString(8)}`)).toEqual([]);
}

const EXPECTED = ['data', 'data/consent.db', 'data/consent.db-wal', 'data/consent.db-shm', 'data/audit.db', 'data/audit.db-wal', 'data/audit.db-shm', 'data/audit.key', 'data/spool'];

function configFile(data: string, listenPort: number): string {
  const file = join(tmp.path, 'relay.yaml');
  writeFileSync(
    file,
    YAML.stringify({
      hostname: 'relay.test',
      dataDir: data,
      listen: [{ address: `127.0.0.1:${listenPort}` }],
      upstream: { address: `127.0.0.1:${up.port}` },
      // the spooled copy stays put while the modes are looked at
      spool: { retryInitial: '1h', scanInterval: '1h' },
    }),
  );
  return file;
}

async function serveOne(port: number): Promise<void> {
  const res = await send(port, 'sales@example.com', ['now@example.org', 'later@example.org'], MESSAGE);
  expect(res.code).toBe(250);
  expect(up.received.map((r) => r.to)).toEqual([['now@example.org']]);
}

describe('a data directory others can enter', () => {
  it.each([
    ['0755', 0o755, true],
    ['0750', 0o750, false],
    ['0701', 0o701, false],
  ] as const)('mode %s: serve (and every command that opens it) exits 78 with one line saying what to run', async (_name, mode, allCommands) => {
    const data = join(tmp.path, 'data');
    mkdirSync(data);
    chmodSync(data, mode);
    const port = await freePort();
    const octal = `0${mode.toString(8)}`;
    const want = new RegExp(`^consent-relay: data directory ${data} is (readable|accessible) by group/other \\(mode ${octal}\\); run: chmod 700 ${data}$`);

    await expect(spawnRelay(['--config', configFile(data, port)], 10_000)).rejects.toThrow(/exited \(78\)/);
    const serve = cli(['serve', '--config', configFile(data, port)]);
    expect(serve.status).toBe(78);
    expect(oneErrorLine(serve)).toMatch(want);

    if (!allCommands) return;
    for (const args of [
      ['consent', 'grant', 'a@example.org', '--scope', 'opens', '--source', 'test'],
      ['consent', 'list'],
      ['audit', 'list'],
      ['queue', 'list'],
      ['scan', '-', '--recipient', 'a@example.org'],
    ]) {
      const r = cli([...args, '--data-dir', data], { input: MESSAGE });
      expect(r.status, args.join(' ')).toBe(78);
      expect(oneErrorLine(r)).toMatch(want);
    }
    // nothing was created in it
    expect(readdirSync(data)).toEqual([]);
  });
});

describe('files and directories the relay makes are private', () => {
  it('the relay process with umask 000 in a directory that does not exist yet: 0700 and 0600 throughout, -wal and -shm included', async () => {
    const data = join(tmp.path, 'data');
    const port = await freePort();
    const relay = await spawnRelay(['--config', configFile(data, port)], 15_000, { umask: '000' });
    procs.push(relay);
    await serveOne(port);
    // while it runs: the WAL files exist and hold what was just written
    expectPrivate(data, EXPECTED);
    expect(readdirSync(join(data, 'spool'))).toHaveLength(1);
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
    expectPrivate(data, ['data', 'data/consent.db', 'data/audit.db', 'data/audit.key', 'data/spool']);
  });

  it('files of ours left too open (an older version, a restore) are tightened at start', async () => {
    const data = join(tmp.path, 'data');
    mkdirSync(data, { mode: 0o700 });
    await grant(data, 'someone@example.org', ['opens']);
    const log = new SqliteAuditLog(data);
    await log.append([]);
    await log.close();
    mkdirSync(join(data, 'spool'));
    writeFileSync(
      join(data, 'spool', '0000000000-00000000.msg'),
      `${JSON.stringify({ envelope: { from: 'a@example.com', to: ['x@example.org'] }, consentClass: '', messageId: null, attempts: 1, firstAttemptAt: new Date().toISOString(), nextAttemptAt: '2999-01-01T00:00:00.000Z', lastError: null, failures: [] })}\nSubject: x\r\n\r\nx\r\n`,
    );
    for (const f of ['consent.db', 'audit.db', 'audit.key', 'spool/0000000000-00000000.msg']) chmodSync(join(data, f), 0o644);
    chmodSync(join(data, 'spool'), 0o755);

    const port = await freePort();
    const relay = await spawnRelay(['--config', configFile(data, port)]);
    procs.push(relay);
    await serveOne(port);
    expectPrivate(data, [...EXPECTED, 'data/spool/0000000000-00000000.msg']);
  });

  it('in-process, with no umask to help (000): the stores and the spool set their modes themselves', async () => {
    const data = join(tmp.path, 'data');
    const before = process.umask(0);
    try {
      const holder = join(tmp.path, 'cfg');
      mkdirSync(holder);
      const relay = await startTestRelay({ ...relayConfig(holder, up.port, { spool: { retryInitial: '1h', scanInterval: '1h' } }), dataDir: data });
      try {
        await serveOne(relay.port);
        expectPrivate(data, EXPECTED);
      } finally {
        await relay.close();
      }
    } finally {
      process.umask(before);
    }
  });
});
