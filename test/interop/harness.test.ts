/**
 * Proves the interop harness (postfix.ts) against a tiny recording SMTP server, so that the real
 * interop tests can swap the recorder for consent-relay and trust the plumbing:
 *   (a) swaks → recorder
 *   (b) postfix as a smart-host client: sendmail into a private Postfix whose relayhost is the
 *       recorder → recorder
 *   (c) postfix as an upstream: nodemailer → private Postfix (relayhost = recorder) → recorder
 * Never skipped: when swaks/postfix are missing it fails saying how to install them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAddress } from 'smtp-server';
import nodemailer from 'nodemailer';
import { availableTools, postfixSendmail, requireTools, sendViaSwaks, smtpDataBytes, startPostfix, stopAllPostfix, type PostfixInstance } from './postfix.js';

interface Recorded {
  readonly from: string;
  readonly to: string[];
  readonly raw: Buffer;
}

interface Recorder {
  readonly port: number;
  readonly received: Recorded[];
  waitFor(n: number, timeoutMs: number): Promise<Recorded[]>;
  close(): Promise<void>;
}

function address(a: SMTPServerAddress | false): string {
  return a === false ? '' : a.address;
}

async function startRecorder(): Promise<Recorder> {
  const received: Recorded[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    name: 'recorder.interop.test',
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: address(session.envelope.mailFrom),
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  return {
    port,
    received,
    async waitFor(n, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`recorder: ${received.length}/${n} messages after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Body = everything after the first blank line (CRLF normalised). */
function bodyOf(raw: Buffer | string): string {
  const s = (Buffer.isBuffer(raw) ? raw.toString('utf8') : raw).replace(/\r?\n/g, '\r\n');
  const i = s.indexOf('\r\n\r\n');
  return i < 0 ? '' : s.slice(i + 4);
}

const MESSAGE = [
  'From: Alice <alice@sender.example>',
  'To: Bob <bob@rcpt.example>, carol@rcpt.example',
  'Subject: interop harness %DATE% stays literal',
  'Message-ID: <harness-1@sender.example>',
  'Date: Mon, 01 Jan 2024 00:00:00 +0000',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Hello Bob, grüße.',
  '.a line starting with a dot',
  '.',
  'a literal backslash-n: \\n and a tracker: https://t.example/open?id=1',
  '',
].join('\r\n');

describe('interop harness', () => {
  let recorder: Recorder;
  const instances: PostfixInstance[] = [];

  beforeAll(async () => {
    requireTools();
    recorder = await startRecorder();
  });

  afterEach(async () => {
    await Promise.all(instances.splice(0).map((i) => i.stop()));
    recorder.received.length = 0;
  });

  afterAll(async () => {
    await stopAllPostfix();
    await recorder?.close();
  });

  it('finds swaks and postfix', () => {
    const t = availableTools();
    expect(t.missing).toEqual([]);
    expect(t.swaks).toBeTruthy();
    expect(t.postfix).toBeTruthy();
  });

  it('(a) swaks delivers a raw message byte-exact with the right envelope', async () => {
    const r = await sendViaSwaks({
      port: recorder.port,
      from: 'alice@sender.example',
      to: ['bob@rcpt.example', 'carol@rcpt.example'],
      data: MESSAGE,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [got] = await recorder.waitFor(1, 5_000);
    expect(got?.from).toBe('alice@sender.example');
    expect(got?.to).toEqual(['bob@rcpt.example', 'carol@rcpt.example']);
    // smtp-server un-stuffs dots, so what arrives is exactly the message.
    expect(got?.raw.toString('utf8')).toBe(MESSAGE);
  });

  it('(a) swaks reports a refused connection as a non-zero exit', async () => {
    const r = await sendViaSwaks({ port: 1, from: 'a@x.example', to: ['b@y.example'], data: MESSAGE, timeoutMs: 5_000 });
    expect(r.code).toBe(2);
  });

  it('smtpDataBytes normalises line ends and dot-stuffs', () => {
    expect(smtpDataBytes('a\n.b\r\n.\rc').toString()).toBe('a\r\n..b\r\n..\r\nc\r\n');
    expect(smtpDataBytes('.x').toString()).toBe('..x\r\n');
  });

  it('(b) postfix as client: sendmail into a private Postfix relays to its relayhost', async () => {
    const pf = await startPostfix({ relayhost: `127.0.0.1:${recorder.port}`, name: 'client' });
    instances.push(pf);
    await postfixSendmail(pf, {
      from: 'alice@sender.example',
      to: ['bob@rcpt.example', 'carol@rcpt.example'],
      raw: MESSAGE.replace(/\r\n/g, '\n'), // local programs hand sendmail LF text
    });
    const [got] = await recorder.waitFor(1, 15_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${pf.logs()}`);
    });
    await pf.queueEmpty(10_000);
    expect(got?.from).toBe('alice@sender.example');
    expect([...(got?.to ?? [])].sort()).toEqual(['bob@rcpt.example', 'carol@rcpt.example']);
    expect(bodyOf(got?.raw ?? '')).toBe(bodyOf(MESSAGE));
    const raw = got?.raw.toString('utf8') ?? '';
    expect(raw).toContain('Subject: interop harness %DATE% stays literal');
    expect(raw).toMatch(/^Received: by client\.interop\.test \(Postfix/m);
    expect(pf.logs()).toMatch(/status=sent/);
  });

  it('(c) postfix as upstream: nodemailer → Postfix → its relayhost', async () => {
    const pf = await startPostfix({ relayhost: `127.0.0.1:${recorder.port}`, name: 'upstream' });
    instances.push(pf);
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: pf.port,
      secure: false,
      ignoreTLS: true,
      name: 'nodemailer.interop.test',
    });
    const info = await transport.sendMail({
      envelope: { from: 'alice@sender.example', to: ['dave@rcpt.example'] },
      raw: MESSAGE,
    });
    transport.close();
    expect(info.accepted).toEqual(['dave@rcpt.example']);
    const [got] = await recorder.waitFor(1, 15_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${pf.logs()}`);
    });
    await pf.queueEmpty(10_000);
    expect(got?.from).toBe('alice@sender.example');
    expect(got?.to).toEqual(['dave@rcpt.example']);
    expect(bodyOf(got?.raw ?? '')).toBe(bodyOf(MESSAGE));
  });

  it('(c) swaks → Postfix → relayhost, with two instances running at once', async () => {
    const [a, b] = await Promise.all([startPostfix({ relayhost: `127.0.0.1:${recorder.port}`, name: 'one' }), startPostfix({ relayhost: `127.0.0.1:${recorder.port}`, name: 'two' })]);
    if (!a || !b) throw new Error('unreachable');
    instances.push(a, b);
    expect(a.port).not.toBe(b.port);
    const [ra, rb] = await Promise.all([
      sendViaSwaks({ port: a.port, from: 'x@sender.example', to: ['one@rcpt.example'], data: MESSAGE }),
      sendViaSwaks({ port: b.port, from: 'y@sender.example', to: ['two@rcpt.example'], data: MESSAGE }),
    ]);
    expect(ra.code, ra.stdout).toBe(0);
    expect(rb.code, rb.stdout).toBe(0);
    expect(ra.stdout).toMatch(/one\.interop\.test ESMTP/);
    const got = await recorder.waitFor(2, 15_000);
    expect(got.map((g) => g.to[0]).sort()).toEqual(['one@rcpt.example', 'two@rcpt.example']);
    await Promise.all([a.queueEmpty(10_000), b.queueEmpty(10_000)]);
    expect(a.logs()).toContain('postfix-one/');
    expect(b.logs()).toContain('postfix-two/');
  });

  it('deferred mail is delivered once the relayhost comes back (retry driven by postqueue -f)', async () => {
    // Relay to a port nobody listens on, then point the instance at the recorder.
    const pf = await startPostfix({ relayhost: '127.0.0.1:1', name: 'retry' });
    instances.push(pf);
    const r = await sendViaSwaks({ port: pf.port, from: 'r@sender.example', to: ['r@rcpt.example'], data: MESSAGE });
    expect(r.code, r.stdout).toBe(0);
    // Wait until it is deferred.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const q = await pf.queue();
      // a deferred message can still be listed under "incoming" or "active" for a moment while
      // qmgr finishes with it; its recipient's delay_reason is the sign it was tried and deferred
      if (q.some((e) => e.queue_name === 'deferred' || e.recipients.some((r) => r.delay_reason !== undefined))) break;
      if (Date.now() > deadline) throw new Error(`never deferred\n${JSON.stringify(q)}\n${pf.logs()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    await pf.reconfigure({ relayhost: `[127.0.0.1]:${recorder.port}` });
    // drive the retry with postqueue -f rather than wait for Postfix's timers: on a loaded machine
    // they slip by tens of seconds (this failed in a full run on a 2-core machine at load ~16)
    const deadline2 = Date.now() + 60_000;
    while (recorder.received.length === 0 && Date.now() < deadline2) {
      await pf.flush();
      await recorder.waitFor(1, 3_000).catch(() => undefined);
    }
    const [got] = await recorder.waitFor(1, 1_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${pf.logs()}`);
    });
    expect(got?.to).toEqual(['r@rcpt.example']);
    await pf.queueEmpty(10_000);
  });

  it('stop() kills the instance and removes its directory', async () => {
    const pf = await startPostfix({ relayhost: `127.0.0.1:${recorder.port}`, name: 'stopme' });
    const { existsSync } = await import('node:fs');
    expect(existsSync(pf.dir)).toBe(true);
    await pf.stop();
    expect(existsSync(pf.dir)).toBe(false);
    const r = await sendViaSwaks({ port: pf.port, from: 'a@x.example', to: ['b@y.example'], data: MESSAGE, timeoutMs: 5_000 });
    expect(r.code).toBe(2);
  });
});
