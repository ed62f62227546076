/**
 * Fair sharing of the listener over real sockets: one address cannot take every slot, and no
 * client can hold a connection forever by trickling bytes or NOOPs. 127.0.0.2 is "another
 * client" (Linux routes all of 127.0.0.0/8 to lo, and the listener serves loopback clients).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RawSmtp, rawSend } from '../helpers/rawSmtp.js';
import { relayConfig, startTestRelay } from '../helpers/relay.js';
import { useRelayScene } from '../helpers/scene.js';
import type { RecordingUpstream } from '../helpers/upstream.js';

const MESSAGE = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const toClose: Array<() => Promise<void> | void> = [];

useRelayScene((s) => ({ tmp, up } = s), toClose);

async function relay(extra: Record<string, unknown>) {
  const r = await startTestRelay(relayConfig(tmp.path, up.port, extra));
  toClose.push(() => r.close());
  return r;
}

/** n connections from one address; each that was greeted keeps sending NOOP every 200 ms. */
async function flood(port: number, n: number): Promise<{ admitted: RawSmtp[]; refused: string[] }> {
  const conns = await Promise.all(Array.from({ length: n }, () => RawSmtp.open(port, '127.0.0.1')));
  let stop = false;
  toClose.push(() => {
    stop = true;
    for (const c of conns) c.close();
  });
  const greetings = await Promise.all(conns.map((c) => c.reply()));
  const admitted = conns.filter((_, i) => greetings[i]!.code === 220);
  const refused = greetings.filter((g) => g.code !== 220).map((g) => g.text);
  for (const c of admitted) {
    void (async () => {
      while (!stop && !c.closed) {
        await c.command('NOOP');
        await sleep(200);
      }
    })();
  }
  return { admitted, refused };
}

describe('connection limits', () => {
  it('200 NOOP-ing connections from one address: the reserve still lets another client through', async () => {
    const r = await relay({ limits: { maxClients: 60 }, smtp: { maxConnectionsPerIp: 1000, reservedConnections: 10 } });
    const { admitted, refused } = await flood(r.port, 200);
    expect(admitted).toHaveLength(50);
    expect(refused).toHaveLength(150);
    // refused by the guard, or in the burst by smtp-server's backstop on connections not yet greeted
    for (const t of refused) expect(t).toMatch(/^421 (4\.7\.0 |relay\.test Too many connected clients)/);
    await sleep(500);
    // the flood is still there and still talking
    expect(admitted.every((c) => !c.closed)).toBe(true);

    const probe = await rawSend(r.port, 'a@example.com', ['alice@example.org'], MESSAGE, '127.0.0.2');
    expect(probe.code, probe.text).toBe(250);
    await up.waitFor(1, 5000);
    // the flooding address itself gets nothing more
    const more = await RawSmtp.open(r.port, '127.0.0.1');
    toClose.push(() => more.close());
    expect((await more.reply()).code).toBe(421);
  }, 30_000);

  it('the per-address limit: 200 connections from one address, 20 admitted, another address served', async () => {
    const r = await relay({ smtp: { maxConnectionsPerIp: 20 } });
    const { admitted, refused } = await flood(r.port, 200);
    expect(admitted).toHaveLength(20);
    expect(refused).toHaveLength(180);
    expect(refused[0]).toMatch(/^421 4\.7\.0 too many connections from your address \(limit 20\)/);
    const probe = await rawSend(r.port, 'a@example.com', ['alice@example.org'], MESSAGE, '127.0.0.2');
    expect(probe.code, probe.text).toBe(250);
    // slots come back when connections close
    for (const c of admitted.slice(0, 5)) c.close();
    await sleep(300);
    const back = await rawSend(r.port, 'a@example.com', ['alice@example.org'], MESSAGE, '127.0.0.1');
    expect(back.code, back.text).toBe(250);
  }, 30_000);
});

describe('deadlines and budgets', () => {
  it('a client sending one byte per second inside DATA is cut off with 421 4.4.2; nothing is delivered', async () => {
    const r = await relay({ smtp: { minDataRate: 100, dataRateGrace: '1s' } });
    const c = await RawSmtp.open(r.port);
    toClose.push(() => c.close());
    expect((await c.reply()).code).toBe(220);
    for (const line of ['EHLO slow.test', 'MAIL FROM:<a@example.com>', 'RCPT TO:<alice@example.org>']) expect((await c.command(line)).code).toBe(250);
    expect((await c.command('DATA')).code).toBe(354);
    const started = Date.now();
    const bytes = MESSAGE.subarray(0, 30);
    let sent = 0;
    const trickle = setInterval(() => c.write(bytes.subarray(sent, ++sent)), 1000);
    toClose.push(() => clearInterval(trickle));
    const cut = await c.reply();
    clearInterval(trickle);
    expect(cut.text).toMatch(/^421 4\.4\.2 message arriving slower than 100 bytes\/s/);
    expect(Date.now() - started).toBeLessThan(6000);
    await sleep(700);
    expect(c.closed).toBe(true);
    expect(up.attempts).toHaveLength(0);
    // the listener is fine for the next client
    expect((await rawSend(r.port, 'a@example.com', ['alice@example.org'], MESSAGE)).code).toBe(250);
  }, 20_000);

  it('a fast DATA transfer is not cut, and DATA has an absolute deadline too', async () => {
    const r = await relay({ smtp: { minDataRate: 100, dataRateGrace: '500ms', dataTimeout: '2s' } });
    // ~200 bytes/s: above the rate, so only the 2 s absolute deadline stops it
    const c = await RawSmtp.open(r.port);
    toClose.push(() => c.close());
    await c.reply();
    for (const line of ['EHLO steady.test', 'MAIL FROM:<a@example.com>', 'RCPT TO:<alice@example.org>']) await c.command(line);
    expect((await c.command('DATA')).code).toBe(354);
    let at = 0;
    const steady = setInterval(() => {
      c.write(MESSAGE.subarray(at, at + 20));
      at += 20;
    }, 100);
    toClose.push(() => clearInterval(steady));
    const started = Date.now();
    const cut = await c.reply();
    clearInterval(steady);
    expect(cut.text).toMatch(/^421 4\.4\.2 message not received within 2 s/);
    expect(Date.now() - started).toBeGreaterThan(1500);
    // a message sent at full speed goes through
    expect((await rawSend(r.port, 'a@example.com', ['alice@example.org'], MESSAGE)).code).toBe(250);
  }, 20_000);

  it('the command phase has an absolute deadline: NOOPs and a trickled command line are cut off', async () => {
    const r = await relay({ smtp: { commandTimeout: '2s' } });
    const noop = await RawSmtp.open(r.port);
    const trickler = await RawSmtp.open(r.port);
    toClose.push(() => noop.close());
    toClose.push(() => trickler.close());
    await Promise.all([noop.reply(), trickler.reply()]);
    const started = Date.now();
    let last = await noop.command('NOOP');
    let ok = 0;
    while (last.code === 250) {
      ok++;
      await sleep(300);
      last = await noop.command('NOOP');
    }
    expect(ok).toBeGreaterThan(3);
    expect(last.text).toMatch(/^421 4\.4\.2 no message completed within 2 s/);
    expect(Date.now() - started).toBeLessThan(4000);
    // one byte of "NOOP" every 300 ms: smtp-server's idle timer never fires, the deadline does
    let i = 0;
    const t = setInterval(() => trickler.write('NOOP NOOP NOOP'.charAt(i++ % 14)), 300);
    toClose.push(() => clearInterval(t));
    const cut = await trickler.reply();
    clearInterval(t);
    expect(cut.text).toMatch(/^421 4\.4\.2 /);
  }, 20_000);

  it('a client that completes messages keeps its connection past the command deadline', async () => {
    const r = await relay({ smtp: { commandTimeout: '1500ms' } });
    const c = await RawSmtp.open(r.port);
    toClose.push(() => c.close());
    await c.reply();
    await c.command('EHLO pool.test');
    for (let n = 0; n < 3; n++) {
      await sleep(900);
      expect((await c.command('MAIL FROM:<a@example.com>')).code).toBe(250);
      expect((await c.command('RCPT TO:<alice@example.org>')).code).toBe(250);
      expect((await c.command('DATA')).code).toBe(354);
      c.write(Buffer.concat([MESSAGE, Buffer.from('.\r\n')]));
      expect((await c.reply()).code).toBe(250);
    }
    await up.waitFor(3, 5000);
  }, 20_000);

  it('the command budget: past smtp.maxCommands the client gets 421 4.7.0 and the connection closes', async () => {
    const r = await relay({ smtp: { maxCommands: 10 } });
    const c = await RawSmtp.open(r.port);
    toClose.push(() => c.close());
    await c.reply();
    for (let n = 0; n < 10; n++) expect((await c.command('NOOP')).code).toBe(250);
    const over = await c.command('NOOP');
    expect(over.text).toMatch(/^421 4\.7\.0 too many commands on one connection \(limit 10\)/);
    await sleep(700);
    expect(c.closed).toBe(true);
  }, 20_000);
});

describe('eviction of idle connections (every local client is 127.0.0.1)', () => {
  /** n connections from 127.0.0.1 that NOOP every 100 ms; `inTransaction` opens MAIL FROM first. Records what each last heard. */
  async function holders(port: number, n: number, inTransaction: boolean) {
    const conns = await Promise.all(Array.from({ length: n }, () => RawSmtp.open(port, '127.0.0.1')));
    const heard: string[] = conns.map(() => '');
    let stop = false;
    toClose.push(() => {
      stop = true;
      for (const c of conns) c.close();
    });
    for (const c of conns) expect((await c.reply()).code).toBe(220);
    for (const c of conns) expect((await c.command('EHLO holder.example')).code).toBe(250);
    if (inTransaction) for (const c of conns) expect((await c.command('MAIL FROM:<a@example.com>')).code).toBe(250);
    conns.forEach((c, i) => {
      void (async () => {
        while (!stop && !c.closed) {
          const r = await c.command('NOOP');
          if (r.code !== 250) heard[i] = r.text;
          await sleep(100);
        }
        // an unsolicited 421 that arrived between two NOOPs is still buffered
        if (!stop && heard[i] === '') heard[i] = (await c.reply()).text;
      })();
    });
    return { conns, heard };
  }

  const limits = { limits: { maxClients: 20 }, smtp: { maxConnectionsPerIp: 5, reservedConnections: 2, evictIdleAfter: '300ms' } };

  it('a client on the same address as five NOOP-ing connections is served: the longest idle one is closed with 421 4.7.0', async () => {
    const r = await relay(limits);
    const { conns, heard } = await holders(r.port, 5, false);
    await sleep(600);
    const probe = await rawSend(r.port, 'a@example.com', ['alice@example.org'], MESSAGE, '127.0.0.1');
    expect(probe.code, probe.text).toBe(250);
    await up.waitFor(1, 5000);
    await sleep(300);
    const evicted = heard.filter((h) => h !== '');
    expect(evicted).toHaveLength(1);
    expect(evicted[0]).toMatch(/^421 4\.7\.0 idle connection closed to make room/);
    expect(conns.filter((c) => c.closed)).toHaveLength(1);
  }, 30_000);

  it('connections in the middle of a transaction are never evicted: the newcomer is refused instead', async () => {
    const r = await relay(limits);
    const { conns, heard } = await holders(r.port, 5, true);
    await sleep(600);
    const probe = await RawSmtp.open(r.port, '127.0.0.1');
    toClose.push(() => probe.close());
    const greeting = await probe.reply();
    expect(greeting.code).toBe(421);
    expect(greeting.text).toMatch(/4\.7\.0 too many connections from your address/);
    expect(heard.every((h) => h === '')).toBe(true);
    expect(conns.some((c) => c.closed)).toBe(false);
  }, 30_000);

  it('young connections are not evicted (smtp.evictIdleAfter), so a newcomer cannot churn them', async () => {
    const r = await relay({ ...limits, smtp: { ...limits.smtp, evictIdleAfter: '1m' } });
    const { conns } = await holders(r.port, 5, false);
    const probe = await RawSmtp.open(r.port, '127.0.0.1');
    toClose.push(() => probe.close());
    expect((await probe.reply()).code).toBe(421);
    expect(conns.some((c) => c.closed)).toBe(false);
  }, 30_000);
});
