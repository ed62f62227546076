/**
 * The relay as a process: durability across SIGKILL, draining on SIGTERM, the start-up line.
 * Runs bin/consent-relay.js (the built CLI) against a recording upstream on loopback.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { SMTPServer } from 'smtp-server';
import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reply, startUpstream, type RecordingUpstream } from '../helpers/upstream.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { grant, send } from '../helpers/relay.js';
import { freePort, spawnRelay, type RelayProcess } from '../helpers/process.js';
import { readFileSync } from 'node:fs';
import { decodedText } from '../helpers/mime.js';

const MESSAGE = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));

let tmp: { path: string; cleanup: () => Promise<void> };
const procs: RelayProcess[] = [];
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await tmp.cleanup();
});

function configFile(listenPort: number, upstreamPort: number, extra: Record<string, unknown> = {}): string {
  const file = join(tmp.path, 'relay.yaml');
  writeFileSync(
    file,
    YAML.stringify({
      hostname: 'relay.test',
      dataDir: join(tmp.path, 'data'),
      listen: [{ address: `127.0.0.1:${listenPort}` }],
      upstream: { address: `127.0.0.1:${upstreamPort}` },
      spool: { retryInitial: '300ms', retryMax: '300ms', scanInterval: '100ms' },
      log: { level: 'info' },
      ...extra,
    }),
  );
  return file;
}

describe('durability', () => {
  let up: RecordingUpstream;
  beforeEach(async () => {
    up = await startUpstream();
  });
  afterEach(async () => {
    await up.close();
  });

  it('a copy spooled before a 250 survives SIGKILL and is delivered exactly once after restart', async () => {
    await grant(join(tmp.path, 'data'), 'full@example.org', ['opens', 'clicks']);
    let soft = true;
    up.setBehaviour((s) => (soft && s.stage === 'rcpt' && s.address === 'none@example.org' ? reply(451, '4.2.0 mailbox busy') : 'accept'));
    const port = await freePort();
    const cfg = configFile(port, up.port);

    const first = await spawnRelay(['--config', cfg]);
    procs.push(first);
    const res = await send(port, 'sales@example.com', ['full@example.org', 'none@example.org'], MESSAGE);
    expect(res.code).toBe(250);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect(up.received.map((r) => r.to.join())).toEqual(['full@example.org']);

    soft = false;
    const second = await spawnRelay(['--config', cfg]);
    procs.push(second);
    const got = await up.waitFor(2, 15_000);
    expect(got[1]!.to).toEqual(['none@example.org']);
    expect(await decodedText(got[1]!.raw)).not.toContain('list-manage.com/track/open.php');
    // give a duplicate every chance to show up
    await new Promise((r) => setTimeout(r, 1500));
    expect(up.received.filter((r) => r.to.includes('none@example.org'))).toHaveLength(1);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

describe('operations', () => {
  it('says where it listens and delivers, and SIGTERM drains: the transaction in flight completes, then exit 0', async () => {
    // an upstream that takes its time at DATA, so SIGTERM lands mid-transaction
    const received: Buffer[] = [];
    const slow = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _s, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () =>
          setTimeout(() => {
            received.push(Buffer.concat(chunks));
            cb();
          }, 1500),
        );
      },
    });
    slow.listen(0, '127.0.0.1');
    await once(slow.server, 'listening');
    const upPort = (slow.server.address() as { port: number }).port;
    try {
      const port = await freePort();
      const relay = await spawnRelay(['--config', configFile(port, upPort)]);
      procs.push(relay);
      const line = relay
        .log()
        .split('\n')
        .find((l) => l.includes('listening on'))!;
      expect(JSON.parse(line).msg).toBe(`consent-relay listening on 127.0.0.1:${port}, delivering to 127.0.0.1:${upPort} (enforce mode)`);

      const pending = send(port, 'sales@example.com', ['a@example.org'], MESSAGE);
      await new Promise((r) => setTimeout(r, 600));
      relay.child.kill('SIGTERM');
      const res = await pending;
      expect(res.code).toBe(250);
      expect(received).toHaveLength(1);
      expect(await relay.exited).toBe(0);
      expect(relay.log()).toMatch(/draining/);
      // no body and no raw address in the operational log
      expect(relay.log()).not.toContain('a@example.org');
      expect(relay.log()).not.toContain('Mailchimp');
    } finally {
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });

  it('refuses to start on a non-loopback address, with a one-line reason and exit 78', async () => {
    const port = await freePort();
    await expect(spawnRelay(['--config', configFile(port, 25), '--listen', `0.0.0.0:${port}`], 10_000)).rejects.toThrow(/exited \(78\)[\s\S]*not a loopback address/);
  });
});
