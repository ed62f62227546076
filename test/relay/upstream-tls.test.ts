/**
 * The running relay and a TLS upstream: what the client is told, what the audit log records and
 * what the operator reads when TLS to the upstream fails, and which settings stop the relay from
 * starting at all. Real SMTP in (nodemailer), a recording smtp-server on 127.0.0.2 with
 * certificates made at test time, the real audit database.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { AuditRow } from '../../src/audit/log.js';
import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { upstreamSecurityFromSettings } from '../../src/delivery/upstreamConfig.js';
import { createLogger } from '../../src/log.js';
import { startRelay } from '../../src/main.js';
import { makeSelfSigned, type CertFiles } from '../helpers/certs.js';
import { send } from '../helpers/relay.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { startUpstream, type RecordingUpstream, type StartUpstreamOptions } from '../helpers/upstream.js';

const MESSAGE = 'From: sales@example.com\r\nTo: bob@example.org\r\nSubject: offer\r\nMessage-ID: <t1@example.com>\r\n\r\nHello Bob\r\n';
const PASSWORD = 'Upstream-Pa55-9f1c';

let certDir: { path: string; cleanup: () => Promise<void> };
let cert: CertFiles;
beforeAll(async () => {
  certDir = await makeTempDir();
  cert = makeSelfSigned(certDir.path, 'upstream', ['upstream.test']);
});
afterAll(() => certDir.cleanup());

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function upstream(opts: StartUpstreamOptions): Promise<RecordingUpstream> {
  const up = await startUpstream({ host: '127.0.0.2', ...opts });
  closers.push(() => up.close());
  return up;
}

async function dataDir(): Promise<string> {
  const d = await makeTempDir();
  closers.push(() => d.cleanup());
  return d.path;
}

function config(dir: string, upstreamSection: Record<string, unknown>): Config {
  const file = join(dir, 'relay.yaml');
  writeFileSync(file, JSON.stringify({ hostname: 'relay.test', upstream: { connectTimeout: '3s', ...upstreamSection } }));
  return loadConfig(file, { listen: '127.0.0.1:0', dataDir: dir });
}

/** The relay with its operational log captured as text. */
async function relay(cfg: Config): Promise<{ port: number; log: () => string }> {
  const lines: string[] = [];
  const sink = new Writable({
    write: (c: Buffer, _e, cb) => {
      lines.push(c.toString());
      cb();
    },
  });
  const r = await startRelay(cfg, { logger: createLogger('info', sink) });
  closers.push(() => r.close());
  return { port: r.addresses[0]!.port, log: () => lines.join('') };
}

async function rows(dir: string, type: AuditRow['type']): Promise<AuditRow[]> {
  const log = new SqliteAuditLog(dir);
  try {
    return await log.list({ type });
  } finally {
    await log.close();
  }
}

describe('relay → upstream with an untrusted certificate', () => {
  it('client gets 451 4.7.5 (keeps the message), audit says rejected with that reply, the log says what to fix', async () => {
    const up = await upstream({ tls: { key: cert.key, cert: cert.cert } });
    const dir = await dataDir();
    const r = await relay(config(dir, { address: `127.0.0.2:${up.port}`, tls: 'starttls', serverName: 'upstream.test' }));

    const res = await send(r.port, 'sales@example.com', ['bob@example.org'], MESSAGE);
    expect(res.code).toBe(451);
    expect(res.response).toMatch(/^451 4\.7\.5 TLS with the upstream failed: certificate not trusted \(self-signed\)/);
    expect(up.received).toEqual([]);

    const rejected = await rows(dir, 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ type: 'rejected', upstream: '451 4.7.5 TLS with the upstream failed: certificate not trusted (self-signed)' });
    expect((rejected[0] as { reason: string }).reason).toMatch(/^451 4\.7\.5 /);
    expect(await rows(dir, 'relayed')).toEqual([]);

    const warn = r
      .log()
      .split('\n')
      .find((l) => l.includes('"failure":"tls-failed"'));
    expect(warn, r.log()).toBeDefined();
    expect(JSON.parse(warn!)).toMatchObject({ level: 40, code: 'UPSTREAM_TLS_FAILED', msg: 'upstream TLS failed: certificate not trusted (self-signed); name its CA in upstream.caFile' });
  });

  it('the same upstream with its certificate as upstream.caFile: 250 and a relayed row', async () => {
    const up = await upstream({ tls: { key: cert.key, cert: cert.cert } });
    const dir = await dataDir();
    const r = await relay(config(dir, { address: `127.0.0.2:${up.port}`, tls: 'starttls', serverName: 'upstream.test', caFile: cert.certFile }));
    const res = await send(r.port, 'sales@example.com', ['bob@example.org'], MESSAGE);
    expect(res.code).toBe(250);
    expect(up.sessions).toEqual([{ secure: true, user: null, clientCertSubject: null }]);
    expect(await rows(dir, 'relayed')).toHaveLength(1);
    expect(r.log()).toMatch(/"upstreamTls":"STARTTLS required, certificate verified for upstream.test \(CA from upstream.caFile\)"/);
  });
});

describe('relay → upstream without STARTTLS, credentials configured', () => {
  it('451 4.7.4, no AUTH and no password on the wire or in the log', async () => {
    const up = await upstream({ auth: { user: 'relay', pass: PASSWORD } });
    const dir = await dataDir();
    const passFile = join(dir, 'upstream.pass');
    writeFileSync(passFile, `${PASSWORD}\n`, { mode: 0o600 });
    const r = await relay(config(dir, { address: `127.0.0.2:${up.port}`, auth: { user: 'relay', passwordFile: passFile } }));

    const res = await send(r.port, 'sales@example.com', ['bob@example.org'], MESSAGE);
    expect(res.code).toBe(451);
    expect(res.response).toMatch(/^451 4\.7\.4 upstream does not offer STARTTLS; not sending in clear text/);
    expect(up.auths).toEqual([]);
    expect(up.wire().toString('latin1')).not.toMatch(/AUTH|MAIL FROM/);
    expect(r.log()).toMatch(/"failure":"starttls-unavailable"/);
    expect(r.log()).not.toContain(PASSWORD);
    expect((await rows(dir, 'rejected'))[0]).toMatchObject({ upstream: '451 4.7.4 upstream does not offer STARTTLS; not sending in clear text' });
  });
});

describe('settings refused or warned at start', () => {
  it('tls: none to a non-loopback upstream does not start (exit 78)', async () => {
    const dir = await dataDir();
    await expect(relay(config(dir, { address: '192.0.2.10:25', tls: 'none' }))).rejects.toMatchObject({ code: 'CONFIG_INVALID', spec: { exit: 78 } });
  });

  it('allowPlaintext: true is accepted, with a warning naming the upstream (not started here: it would probe a remote host)', async () => {
    const dir = await dataDir();
    const cfg = config(dir, { address: '192.0.2.10:25', tls: 'none', allowPlaintext: true });
    const security = upstreamSecurityFromSettings({ ...cfg.upstream, host: '192.0.2.10', port: 25 });
    expect(security.transport).toBe('plain');
    expect(security.warnings).toEqual(['upstream.allowPlaintext: mail to 192.0.2.10 leaves in clear text, readable and changeable by anyone on the path']);
  });
});
