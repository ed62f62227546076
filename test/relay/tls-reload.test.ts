/**
 * Certificate reload on SIGHUP, on the real process: a renewed certificate is served to new
 * sessions, and a session that started before the reload carries on (nothing is dropped).
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeCa, makeLeaf } from '../helpers/certs.js';
import { freePort, spawnRelay, type RelayProcess } from '../helpers/process.js';
import { makeTempDir } from '../helpers/tmpdir.js';

let tmp: { path: string; cleanup: () => Promise<void> };
const procs: RelayProcess[] = [];
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await tmp.cleanup();
});

/** An implicit-TLS session: its certificate's CN, and a way to talk on it. */
async function session(port: number): Promise<{ cn: string; say: (line: string) => Promise<string>; socket: TLSSocket }> {
  const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  let buf = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (d: Buffer) => {
    buf += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const next = async (): Promise<string> => {
    for (;;) {
      const m = /^(?:\d{3}-.*\r\n)*\d{3} .*\r\n/.exec(buf);
      if (m) {
        buf = buf.slice(m[0].length);
        return m[0];
      }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  await next();
  return {
    cn: String(socket.getPeerCertificate().subject.CN),
    socket,
    say: (line) => {
      socket.write(`${line}\r\n`);
      return next();
    },
  };
}

describe('TLS certificates', () => {
  it('are re-read on SIGHUP: new sessions get the new one, a session already open carries on', async () => {
    const ca = makeCa(tmp.path, 'ca');
    const old = makeLeaf(tmp.path, ca, 'old', ['old.relay.test', '127.0.0.1']);
    const renewed = makeLeaf(tmp.path, ca, 'new', ['new.relay.test', '127.0.0.1']);
    const live = { cert: join(tmp.path, 'live.pem'), key: join(tmp.path, 'live.key') };
    copyFileSync(old.certFile, live.cert);
    copyFileSync(old.keyFile, live.key);
    const port = await freePort();
    const file = join(tmp.path, 'relay.yaml');
    writeFileSync(file, YAML.stringify({ dataDir: join(tmp.path, 'data'), listeners: [{ mode: 'submission', address: `127.0.0.1:${port}`, tls: live, implicitTls: true }], log: { level: 'info' } }));
    const relay = await spawnRelay(['--config', file, '--listen', '127.0.0.1:0']);
    procs.push(relay);

    const before = await session(port);
    expect(before.cn).toBe('old.relay.test');
    expect(await before.say('EHLO client.test')).toMatch(/^250-/);

    copyFileSync(renewed.certFile, live.cert);
    copyFileSync(renewed.keyFile, live.key);
    relay.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/TLS certificates reloaded/.test(relay.log()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(relay.log()).toMatch(/TLS certificates reloaded/);

    const after = await session(port);
    expect(after.cn).toBe('new.relay.test');
    // the session from before the reload is still served
    expect(await before.say('NOOP')).toMatch(/^250 /);
    expect(await before.say('QUIT')).toMatch(/^221 /);
    after.socket.destroy();

    // a reload that cannot read the files keeps the current certificate, and says what is wrong
    writeFileSync(live.key, 'not a key');
    relay.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/TLS reload failed/.test(relay.log()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(relay.log()).toMatch(/TLS reload failed; the listener keeps its previous certificate/);
    const still = await session(port);
    expect(still.cn).toBe('new.relay.test');
    still.socket.destroy();
    expect(relay.child.exitCode).toBeNull();
  });
});
