/**
 * TLS and AUTH to the upstream over real sockets: a recording smtp-server on 127.0.0.2 with
 * certificates made by openssl at test time. What must hold: no delivery to an upstream whose
 * certificate is not trusted or that offers no STARTTLS (a temporary 451 4.7.x, the copy kept),
 * credentials never on the wire before TLS, implicit TLS and client certificates working, and the
 * spool keeping a copy while TLS fails and delivering it once the upstream is trusted.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Disposition } from '../../src/delivery/dispositions.js';
import { Spool } from '../../src/delivery/spool.js';
import { SpoolWorker } from '../../src/delivery/spoolWorker.js';
import type { Copy } from '../../src/delivery/types.js';
import { SmtpUpstream } from '../../src/delivery/upstream.js';
import type { SessionFailure } from '../../src/delivery/upstreamFailure.js';
import { resolveUpstreamSecurity, type UpstreamSecurityConfig } from '../../src/delivery/upstreamTls.js';
import { makeCa, makeLeaf, makeSelfSigned, type CertFiles } from '../helpers/certs.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { startUpstream, type RecordingUpstream, type StartUpstreamOptions } from '../helpers/upstream.js';

const HOST = '127.0.0.2';
const NAME = 'upstream.test';
const RAW = Buffer.from('From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <m1@example.com>\r\n\r\nhello\r\n');
const PASSWORD = 'pa55-W0rd-never-in-clear';
const copy: Copy = { consentClass: 'none', envelope: { from: 'a@example.com', to: ['b@example.org'] }, raw: RAW, messageId: '<m1@example.com>' };

let dir: { path: string; cleanup: () => Promise<void> };
let ca: CertFiles;
let server: CertFiles;
let selfSigned: CertFiles;
let client: CertFiles;
beforeAll(async () => {
  dir = await makeTempDir();
  ca = makeCa(dir.path);
  server = makeLeaf(dir.path, ca, 'server', [NAME]);
  selfSigned = makeSelfSigned(dir.path, 'self', [NAME]);
  client = makeLeaf(dir.path, ca, 'client', ['relay.test'], 'clientAuth');
});
afterAll(() => dir.cleanup());

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function upstreamServer(opts: StartUpstreamOptions): Promise<RecordingUpstream> {
  const up = await startUpstream({ host: HOST, ...opts });
  open.push(up);
  return up;
}

/** The relay's side: security as `upstream.*` would configure it, session failures collected. */
function relaySide(up: RecordingUpstream, cfg: Partial<UpstreamSecurityConfig>, env: NodeJS.ProcessEnv = {}): { upstream: SmtpUpstream; failures: SessionFailure[] } {
  const security = resolveUpstreamSecurity({ host: HOST, tls: 'starttls', allowPlaintext: false, serverName: NAME, ...cfg }, { readFile: (p) => readFileSync(p), modeOf: () => 0o600, env });
  const failures: SessionFailure[] = [];
  const upstream = new SmtpUpstream({ host: up.host, port: up.port, security, name: 'relay.test', connectionTimeoutMs: 3000, onSessionFailure: (f) => failures.push(f) });
  open.push(upstream);
  return { upstream, failures };
}

describe('upstream certificate verification', () => {
  it('refuses an upstream with a self-signed certificate: 451 4.7.5, nothing delivered', async () => {
    const up = await upstreamServer({ tls: { key: selfSigned.key, cert: selfSigned.cert } });
    const { upstream, failures } = relaySide(up, {});
    const out = await upstream.send(copy);
    expect(out.accepted).toEqual([]);
    expect(out.failed).toEqual([{ recipient: 'b@example.org', code: 451, temporary: true, response: '451 4.7.5 TLS with the upstream failed: certificate not trusted (self-signed)' }]);
    expect(up.received).toEqual([]);
    expect(up.sessions).toEqual([]);
    expect(failures.map((f) => f.kind)).toEqual(['tls-failed']);
    expect(failures[0]?.detail).toMatch(/upstream\.caFile/);
  });

  it('accepts the same self-signed upstream once its certificate is named as the CA', async () => {
    const up = await upstreamServer({ tls: { key: selfSigned.key, cert: selfSigned.cert } });
    const { upstream } = relaySide(up, { caFile: selfSigned.certFile });
    const out = await upstream.send(copy);
    expect(out.accepted).toEqual(['b@example.org']);
    expect(up.sessions).toEqual([{ secure: true, user: null, clientCertSubject: null }]);
  });

  it('refuses a certificate from an unknown private CA unless upstream.caFile names it, then delivers', async () => {
    const up = await upstreamServer({ tls: { key: server.key, cert: server.cert } });
    const refused = await relaySide(up, {}).upstream.send(copy);
    expect(refused.failed[0]).toMatchObject({ code: 451, temporary: true });
    expect(refused.failed[0]?.response).toMatch(/^451 4\.7\.5 TLS with the upstream failed: certificate chain not trusted/);
    const ok = await relaySide(up, { caFile: ca.certFile }).upstream.send(copy);
    expect(ok.accepted).toEqual(['b@example.org']);
    expect(up.received).toHaveLength(1);
  });

  it('refuses a trusted certificate that does not name the upstream (host name verified)', async () => {
    const up = await upstreamServer({ tls: { key: server.key, cert: server.cert } });
    const { upstream, failures } = relaySide(up, { caFile: ca.certFile, serverName: 'other.test' });
    const out = await upstream.send(copy);
    expect(out.failed[0]?.response).toBe('451 4.7.5 TLS with the upstream failed: certificate does not name the upstream');
    expect(failures[0]?.detail).toMatch(/upstream\.serverName/);
    expect(up.received).toEqual([]);
  });
});

describe('STARTTLS required', () => {
  it('refuses an upstream that offers no STARTTLS: 451 4.7.4, not even MAIL FROM in clear', async () => {
    const up = await upstreamServer({});
    const { upstream, failures } = relaySide(up, { caFile: ca.certFile });
    const out = await upstream.send(copy);
    expect(out.failed).toEqual([{ recipient: 'b@example.org', code: 451, temporary: true, response: '451 4.7.4 upstream does not offer STARTTLS; not sending in clear text' }]);
    expect(up.sessions).toEqual([]);
    expect(up.wire().toString('latin1')).not.toMatch(/MAIL FROM/i);
    expect(failures.map((f) => f.kind)).toEqual(['starttls-unavailable']);
  });

  it('delivers in clear text only when told to (tls: none on loopback)', async () => {
    const up = await upstreamServer({});
    const { upstream } = relaySide(up, { tls: 'none', serverName: undefined });
    const out = await upstream.send(copy);
    expect(out.accepted).toEqual(['b@example.org']);
    expect(up.sessions).toEqual([{ secure: false, user: null, clientCertSubject: null }]);
  });

  it('auto on a loopback literal without credentials is plain text, and does not try STARTTLS', async () => {
    const up = await upstreamServer({ tls: { key: selfSigned.key, cert: selfSigned.cert } });
    const { upstream } = relaySide(up, { tls: 'auto', serverName: undefined });
    expect((await upstream.send(copy)).accepted).toEqual(['b@example.org']);
    expect(up.sessions).toEqual([{ secure: false, user: null, clientCertSubject: null }]);
  });

  it('implicit TLS (port 465 style) delivers, verified', async () => {
    const up = await upstreamServer({ tls: { key: server.key, cert: server.cert, secure: true } });
    const { upstream } = relaySide(up, { tls: 'implicit', caFile: ca.certFile });
    expect((await upstream.send(copy)).accepted).toEqual(['b@example.org']);
    expect(up.sessions).toEqual([{ secure: true, user: null, clientCertSubject: null }]);
    expect(up.wire().toString('latin1')).not.toMatch(/EHLO|MAIL FROM/);
  });

  it('implicit TLS to an untrusted upstream is refused with 451 4.7.5', async () => {
    const up = await upstreamServer({ tls: { key: selfSigned.key, cert: selfSigned.cert, secure: true } });
    const out = await relaySide(up, { tls: 'implicit' }).upstream.send(copy);
    expect(out.failed[0]?.response).toBe('451 4.7.5 TLS with the upstream failed: certificate not trusted (self-signed)');
    expect(up.received).toEqual([]);
  });

  it('implicit TLS to an upstream that speaks plain SMTP fails the handshake: 451 4.7.5, nothing sent', async () => {
    const up = await upstreamServer({});
    const out = await relaySide(up, { tls: 'implicit', caFile: ca.certFile }).upstream.send(copy);
    expect(out.failed[0]).toMatchObject({ code: 451, temporary: true });
    expect(out.failed[0]?.response).toMatch(/^451 4\.7\.5 TLS with the upstream failed: /);
    expect(up.sessions).toEqual([]);
  });

  it('presents the client certificate when configured', async () => {
    const up = await upstreamServer({ tls: { key: server.key, cert: server.cert, clientCa: ca.cert } });
    const { upstream } = relaySide(up, { caFile: ca.certFile, clientCert: { certFile: client.certFile, keyFile: client.keyFile } });
    expect((await upstream.send(copy)).accepted).toEqual(['b@example.org']);
    expect(up.sessions).toEqual([{ secure: true, user: null, clientCertSubject: 'relay.test' }]);
  });
});

describe('AUTH to the upstream', () => {
  it('never sends credentials to an upstream without STARTTLS, even one that would take them', async () => {
    const up = await upstreamServer({ auth: { user: 'relay', pass: PASSWORD } });
    const { upstream } = relaySide(up, { tls: 'auto', serverName: undefined, auth: { user: 'relay', passwordEnv: 'UP_PASS' } }, { UP_PASS: PASSWORD });
    const out = await upstream.send(copy);
    expect(out.failed[0]?.response).toMatch(/^451 4\.7\.4 /);
    expect(up.auths).toEqual([]);
    const wire = up.wire().toString('latin1');
    expect(wire).not.toMatch(/AUTH/i);
    expect(wire).not.toContain(PASSWORD);
    expect(wire).not.toContain(Buffer.from(`\0relay\0${PASSWORD}`).toString('base64'));
  });

  it('authenticates after STARTTLS; nothing of the password crosses the wire in clear', async () => {
    const up = await upstreamServer({ tls: { key: server.key, cert: server.cert }, auth: { user: 'relay', pass: PASSWORD } });
    const { upstream } = relaySide(up, { caFile: ca.certFile, auth: { user: 'relay', passwordEnv: 'UP_PASS' } }, { UP_PASS: PASSWORD });
    expect((await upstream.send(copy)).accepted).toEqual(['b@example.org']);
    expect(up.auths).toEqual([{ user: 'relay', secure: true }]);
    expect(up.sessions).toEqual([{ secure: true, user: 'relay', clientCertSubject: null }]);
    const wire = up.wire().toString('latin1');
    expect(wire).toMatch(/STARTTLS/);
    expect(wire).not.toMatch(/AUTH/);
    expect(wire).not.toContain(Buffer.from(`\0relay\0${PASSWORD}`).toString('base64'));
  });

  it('a refused password is a temporary 451 4.7.0 (our setting, not the message), without the password in it', async () => {
    const up = await upstreamServer({ tls: { key: server.key, cert: server.cert }, auth: { user: 'relay', pass: 'the-right-one' } });
    const { upstream, failures } = relaySide(up, { caFile: ca.certFile, auth: { user: 'relay', passwordEnv: 'UP_PASS' } }, { UP_PASS: PASSWORD });
    const out = await upstream.send(copy);
    expect(out.failed).toEqual([{ recipient: 'b@example.org', code: 451, temporary: true, response: "451 4.7.0 upstream refused the relay's credentials" }]);
    expect(failures.map((f) => f.kind)).toEqual(['auth-failed']);
    expect(JSON.stringify(failures)).not.toContain(PASSWORD);
    expect(up.received).toEqual([]);
  });
});

describe('a copy in the spool while TLS fails', () => {
  it('stays in the spool (retried, 4.7.5) and is delivered once the upstream is trusted', async () => {
    const up = await upstreamServer({ tls: { key: server.key, cert: server.cert } });
    const spoolDir = await makeTempDir();
    open.push({ close: () => spoolDir.cleanup() });
    const spool = await Spool.open(spoolDir.path);
    const now = new Date().toISOString();
    const id = await spool.enqueue(
      { envelope: copy.envelope, consentClass: 'none', messageId: copy.messageId, queueId: 'Q1', attempts: 1, firstAttemptAt: now, nextAttemptAt: now, lastError: null, failures: [] },
      RAW,
    );
    const records: Disposition[] = [];
    const run = async (upstream: SmtpUpstream): Promise<void> => {
      const worker = new SpoolWorker({ spool, upstream, policy: { initialDelayMs: 0, maxDelayMs: 0 }, record: async (d) => void records.push(...d) });
      await worker.kick();
    };
    await run(relaySide(up, {}).upstream);
    expect(records.map((d) => [d.type, d.response])).toEqual([['retried', '451 4.7.5 TLS with the upstream failed: certificate chain not trusted']]);
    expect((await spool.get(id))?.meta.lastError).toMatch(/^451 4\.7\.5/);
    expect(up.received).toEqual([]);

    await run(relaySide(up, { caFile: ca.certFile }).upstream);
    expect(records.map((d) => d.type)).toEqual(['retried', 'delivered-from-spool']);
    expect(await spool.get(id)).toBeNull();
    expect(up.received.map((r) => r.raw.equals(RAW))).toEqual([true]);
  });
});
