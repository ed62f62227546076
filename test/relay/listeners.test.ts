/**
 * Attacks on a running relay over real sockets: a smart-host listener with an allowlist (127.0.0.2
 * stands in for the company MTA, 127.0.0.3 for anybody else), a submission listener with TLS and
 * AUTH, and smart-host client certificates. Clients are Debian's swaks, nodemailer, and a raw
 * socket for what neither will send (AUTH before STARTTLS). Every expected reply is asserted.
 */
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { hashPassword } from '../../src/users/password.js';
import { SqliteUserStore } from '../../src/users/sqlite.js';
import { makeCa, makeLeaf, type CertFiles } from '../helpers/certs.js';
import { RawSmtp } from '../helpers/rawSmtp.js';
import { receivedFields } from '../helpers/received.js';
import { relayConfig, startTestRelay } from '../helpers/relay.js';
import { useRelayScene, type Scene } from '../helpers/scene.js';
import { serverLines, swaks } from '../helpers/swaks.js';

let scene: Scene;
const toClose: Array<() => Promise<void> | void> = [];
useRelayScene((s) => (scene = s), toClose);

const MESSAGE = 'From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hello\r\n\r\nplain text, no trackers\r\n';
const PASSWORD = 'correct horse battery staple';

type Mode = 'local' | 'submission' | 'smarthost';

async function relayWith(listeners: Record<string, unknown>[], auth: Record<string, unknown> = {}): Promise<(mode: Mode) => number> {
  const config = relayConfig(scene.tmp.path, scene.up.port, { listeners, auth: { failureDelay: 0, ...auth } });
  const r = await startTestRelay(config);
  toClose.push(() => r.close());
  return (mode) => r.addresses.find((a) => a.mode === mode)!.port;
}

function serverCert(): { ca: CertFiles; server: { cert: string; key: string } } {
  const ca = makeCa(scene.tmp.path, 'test-ca');
  const leaf = makeLeaf(scene.tmp.path, ca, 'server', ['relay.test', '127.0.0.1']);
  return { ca, server: { cert: leaf.certFile, key: leaf.keyFile } };
}

async function addUser(name: string, senders: string[]): Promise<void> {
  const store = new SqliteUserStore(scene.tmp.path);
  await store.add({ name, senders, passwordHash: await hashPassword(PASSWORD) });
  await store.close();
}

function plain(user: string, pass: string): string {
  return Buffer.from(`\0${user}\0${pass}`).toString('base64');
}

interface Outcome {
  code: number;
  response: string;
}

async function submit(port: number, o: { user: string; pass: string; from: string; to?: string[]; secure?: boolean; method?: 'PLAIN' | 'LOGIN'; localAddress?: string }): Promise<Outcome> {
  const t = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: o.secure ?? false,
    requireTLS: !o.secure,
    tls: { rejectUnauthorized: false },
    auth: { user: o.user, pass: o.pass },
    authMethod: o.method ?? 'PLAIN',
    connectionTimeout: 5000,
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
  try {
    const info = await t.sendMail({ envelope: { from: o.from, to: o.to ?? ['bob@example.org'] }, raw: MESSAGE });
    return { code: Number(info.response.slice(0, 3)), response: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { code: e.responseCode ?? 0, response: e.response ?? e.message };
  } finally {
    t.close();
  }
}

describe('smart-host listener: only the allowed MTAs relay', () => {
  it('relays for an allowed address and refuses everyone else with 554 5.7.1, relaying nothing', async () => {
    const port = await relayWith([{ mode: 'smarthost', address: '127.0.0.1:0', allow: ['127.0.0.2/32', '2001:db8::/32'] }]);
    const file = join(scene.tmp.path, 'msg.eml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, MESSAGE);

    const ok = await swaks(['--server', `127.0.0.1:${port('smarthost')}`, '--local-interface', '127.0.0.2', '--from', 'crm@example.com', '--to', 'bob@example.org', '--data', file]);
    expect(ok.status, ok.out).toBe(0);
    expect(serverLines(ok.out).pop()).toBe('221 2.0.0 Bye');
    await scene.up.waitFor(1, 5000);

    // the open-relay attempt: same port, another source address, no credentials offered
    const denied = await swaks(['--server', `127.0.0.1:${port('smarthost')}`, '--local-interface', '127.0.0.3', '--from', 'spam@evil.example', '--to', 'victim@example.net', '--data', file]);
    expect(denied.status).not.toBe(0);
    expect(denied.out).toMatch(/<\*\*\s+554 5\.7\.1 relay access denied: your address is not allowed to relay here/);
    // and from the relay's own address, which is not on the list either
    const local = await RawSmtp.open(port('smarthost'));
    expect((await local.reply()).text).toMatch(/^554 5\.7\.1 /);
    local.close();

    expect(scene.up.attempts).toHaveLength(1);
    expect(scene.up.received[0]!.from).toBe('crm@example.com');
  });

  it('the local listener (loopback only) still serves 127.0.0.1 beside it, and AUTH is not offered there', async () => {
    const port = await relayWith([{ mode: 'local', address: '127.0.0.1:0' }]);
    const c = await RawSmtp.open(port('local'));
    await c.reply();
    const ehlo = await c.command('EHLO client.test');
    expect(ehlo.text).not.toMatch(/AUTH|STARTTLS/);
    expect((await c.command(`AUTH PLAIN ${plain('alice', PASSWORD)}`)).code).toBe(500);
    c.close();
  });
});

describe('submission listener: TLS, then AUTH, then only your own senders', () => {
  async function submission(auth: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<number> {
    const { server } = serverCert();
    await addUser('alice', ['alice@example.com', '@sales.example.com']);
    const port = await relayWith([{ mode: 'submission', address: '127.0.0.1:0', tls: server, ...extra }], auth);
    return port('submission');
  }

  it('MAIL without AUTH is 530 5.7.0 and AUTH before STARTTLS is 538 5.7.11; nothing is relayed', async () => {
    const port = await submission();
    const c = await RawSmtp.open(port, '127.0.0.3');
    expect((await c.reply()).code).toBe(220);
    const ehlo = await c.command('EHLO attacker.test');
    expect(ehlo.text).toMatch(/STARTTLS/);
    // no AUTH offered in clear, so no client is invited to send a password before TLS
    expect(ehlo.text).not.toMatch(/AUTH/);
    expect((await c.command('MAIL FROM:<alice@example.com>')).text).toMatch(/^530 5\.7\.0 authentication required/);
    expect((await c.command('RCPT TO:<victim@example.net>')).text).toMatch(/^530 5\.7\.0 /);
    // credentials in clear text are refused before they are read (PLAIN with an initial response
    // is read already, but never checked)
    expect((await c.command(`AUTH PLAIN ${plain('alice', PASSWORD)}`)).text).toMatch(/^538 5\.7\.11 encryption required/);
    expect((await c.command('AUTH LOGIN')).text).toMatch(/^538 5\.7\.11 /);
    c.close();

    // swaks without STARTTLS is offered no AUTH and sends no credentials; after STARTTLS it is offered
    const clear = await swaks([
      '--server',
      `127.0.0.1:${port}`,
      '--local-interface',
      '127.0.0.3',
      '--from',
      'alice@example.com',
      '--to',
      'bob@example.org',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice',
      '--auth-password',
      PASSWORD,
    ]);
    expect(clear.status).not.toBe(0);
    expect(clear.out).toMatch(/did not advertise authentication/i);
    expect(clear.out).not.toMatch(/-> AUTH/);
    const tls = await swaks(['--server', `127.0.0.1:${port}`, '--tls', '--quit-after', 'HELO']);
    expect(tls.out).toMatch(/<~\s+250-AUTH PLAIN LOGIN/);
    expect(scene.up.attempts).toHaveLength(0);
  });

  it('an authenticated user relays from their own address and domain; the login is in Received: and the audit row', async () => {
    const port = await submission();
    const file = join(scene.tmp.path, 'msg.eml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, MESSAGE);
    const s = await swaks([
      '--server',
      `127.0.0.1:${port}`,
      '--tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice',
      '--auth-password',
      PASSWORD,
      '--from',
      'alice@example.com',
      '--to',
      'bob@example.org',
      '--data',
      file,
    ]);
    expect(s.status, s.out).toBe(0);
    expect(s.out).toMatch(/<~\s+235 2\.7\.0 Authentication successful/);
    const login = await submit(port, { user: 'alice', pass: PASSWORD, from: 'Anyone@Sales.Example.com', method: 'LOGIN' });
    expect(login.code, login.response).toBe(250);

    const got = await scene.up.waitFor(2, 5000);
    const trace = receivedFields(got[0]!.raw)[0]!;
    expect(trace).toMatch(/\(Authenticated sender: alice\)/);
    expect(trace).toMatch(/with ESMTPSA id /);

    const audit = new SqliteAuditLog(scene.tmp.path);
    const relayed = (await audit.list({ type: 'relayed' })).filter((r) => r.type === 'relayed');
    await audit.close();
    expect(relayed.map((r) => (r.type === 'relayed' ? r.authUser : null))).toEqual(['alice', 'alice']);
  });

  it('a forged MAIL FROM after AUTH is 553 5.7.1, and nothing is relayed', async () => {
    const port = await submission();
    const s = await swaks(['--server', `127.0.0.1:${port}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', PASSWORD, '--from', 'ceo@example.com', '--to', 'bob@example.org']);
    expect(s.out).toMatch(/<~\*\s+553 5\.7\.1 sender address not allowed for your login/);
    const nul = await submit(port, { user: 'alice', pass: PASSWORD, from: '' });
    expect(nul.response).toMatch(/^553 5\.7\.1 /);
    const lookalike = await submit(port, { user: 'alice', pass: PASSWORD, from: 'alice@example.com.evil.example' });
    expect(lookalike.response).toMatch(/^553 5\.7\.1 /);
    expect(scene.up.attempts).toHaveLength(0);
  });

  it('wrong passwords get 535 5.7.8 until the user is locked out (454 4.7.0), even with the right password then', async () => {
    const port = await submission({ maxFailuresPerUser: 3, maxFailuresPerIp: 100 });
    for (let i = 0; i < 3; i++) {
      const r = await submit(port, { user: 'alice', pass: `wrong-${i}-password`, from: 'alice@example.com' });
      expect(r.response).toMatch(/^535 5\.7\.8 authentication credentials invalid/);
    }
    const locked = await submit(port, { user: 'alice', pass: PASSWORD, from: 'alice@example.com' });
    expect(locked.response).toMatch(/^454 4\.7\.0 too many failed logins; try again in \d+ s/);
    // an unknown name is refused the same way, and locks out the same way (names are not told apart)
    const ghost = await submit(port, { user: 'nobody', pass: PASSWORD, from: 'alice@example.com' });
    expect(ghost.response).toMatch(/^535 5\.7\.8 /);
    expect(scene.up.attempts).toHaveLength(0);
  });

  it('an address that fails too often is locked out at AUTH, before it sends credentials; other addresses are not', async () => {
    const port = await submission({ maxFailuresPerIp: 4, maxFailuresPerUser: 100 });
    for (const name of ['root', 'admin', 'test', 'info']) {
      const r = await submit(port, { user: name, pass: 'guess-guess-guess', from: 'alice@example.com', localAddress: '127.0.0.3' });
      expect(r.response).toMatch(/^535 5\.7\.8 /);
    }
    const c = await RawSmtp.open(port, '127.0.0.3');
    await c.reply();
    await c.command('EHLO spray.test');
    expect((await c.command('STARTTLS')).code).toBe(220);
    const secure = tlsConnect({ socket: c.socket, rejectUnauthorized: false });
    await new Promise((r) => secure.once('secureConnect', r));
    const lines: string[] = [];
    secure.on('data', (d: Buffer) => lines.push(d.toString()));
    const say = async (line: string): Promise<string> => {
      const before = lines.length;
      secure.write(`${line}\r\n`);
      for (let i = 0; i < 200 && lines.length === before; i++) await new Promise((r) => setTimeout(r, 10));
      return lines.slice(before).join('');
    };
    await say('EHLO spray.test');
    expect(await say('AUTH LOGIN')).toMatch(/^454 4\.7\.0 too many failed logins from your address; try again in \d+ s/);
    secure.destroy();

    const other = await submit(port, { user: 'alice', pass: PASSWORD, from: 'alice@example.com', localAddress: '127.0.0.2' });
    expect(other.code, other.response).toBe(250);
  });

  it('messages and recipients per user per minute: 451 4.7.1 beyond the limit', async () => {
    const port = await submission({ userMessagesPerMinute: 2, userRecipientsPerMinute: 3 });
    expect((await submit(port, { user: 'alice', pass: PASSWORD, from: 'alice@example.com' })).code).toBe(250);
    expect((await submit(port, { user: 'alice', pass: PASSWORD, from: 'alice@example.com', to: ['c@example.org', 'd@example.org'] })).code).toBe(250);
    const third = await submit(port, { user: 'alice', pass: PASSWORD, from: 'alice@example.com' });
    expect(third.response).toMatch(/^451 4\.7\.1 too many messages per minute from your login \(limit 2\)/);
    expect(scene.up.received).toHaveLength(2);
  });

  it('recipients beyond the per-minute limit get 451 4.7.1 at RCPT', async () => {
    const port = await submission({ userRecipientsPerMinute: 3 });
    const s = await swaks([
      '--server',
      `127.0.0.1:${port}`,
      '--tls',
      '--auth',
      'LOGIN',
      '--auth-user',
      'alice',
      '--auth-password',
      PASSWORD,
      '--from',
      'alice@example.com',
      '--to',
      'a@example.org,b@example.org,c@example.org,d@example.org',
    ]);
    expect(serverLines(s.out).filter((l) => /^451 4\.7\.1 too many recipients per minute/.test(l))).toHaveLength(1);
    const [copy] = await scene.up.waitFor(1, 5000);
    expect(copy!.to).toEqual(['a@example.org', 'b@example.org', 'c@example.org']);
  });

  it('a client that does not log in gets a bounded number of commands, then 421 4.7.0', async () => {
    const port = await submission({ maxCommandsBeforeAuth: 5 });
    const c = await RawSmtp.open(port);
    await c.reply();
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await c.command(i === 0 ? 'EHLO x.test' : 'NOOP')).code);
    expect(codes).toEqual([250, 250, 250, 250, 250, 421]);
    c.close();
  });

  it('implicit TLS (port 465 style) with AUTH PLAIN', async () => {
    const port = await submission({}, { implicitTls: true });
    const r = await submit(port, { user: 'alice', pass: PASSWORD, from: 'alice@example.com', secure: true });
    expect(r.code, r.response).toBe(250);
    const cipher = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve('connected'));
      s.on('error', (e) => resolve(e.message));
    });
    expect(cipher).not.toBe('connected');
  });
});

describe('smart-host listener with client certificates', () => {
  it('admits an MTA with a certificate from the configured CA; without one, MAIL is 530 5.7.0 and TLS fails', async () => {
    const { ca, server } = serverCert();
    const client = makeLeaf(scene.tmp.path, ca, 'mta', ['mta.example.com'], 'clientAuth');
    const otherCa = makeCa(scene.tmp.path, 'other-ca');
    const stranger = makeLeaf(scene.tmp.path, otherCa, 'stranger', ['mta.evil.example'], 'clientAuth');
    const port = (await relayWith([{ mode: 'smarthost', address: '127.0.0.1:0', allow: ['127.0.0.0/8'], tls: server, clientCa: ca.certFile }]))('smarthost');

    const send = async (cert?: CertFiles): Promise<Outcome> => {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port, requireTLS: true, connectionTimeout: 5000, tls: { ca: ca.cert, ...(cert ? { cert: cert.cert, key: cert.key } : {}) } });
      try {
        const info = await t.sendMail({ envelope: { from: 'crm@example.com', to: ['bob@example.org'] }, raw: MESSAGE });
        return { code: Number(info.response.slice(0, 3)), response: info.response };
      } catch (err) {
        const e = err as { responseCode?: number; response?: string; message: string };
        return { code: e.responseCode ?? 0, response: e.response ?? e.message };
      } finally {
        t.close();
      }
    };
    expect((await send(client)).code).toBe(250);
    expect((await send()).code).not.toBe(250);
    expect((await send(stranger)).code).not.toBe(250);

    const c = await RawSmtp.open(port);
    await c.reply();
    await c.command('EHLO mta.test');
    expect((await c.command('MAIL FROM:<crm@example.com>')).text).toMatch(/^530 5\.7\.0 must issue STARTTLS with a client certificate first/);
    c.close();
    expect(scene.up.attempts).toHaveLength(1);
  });
});
