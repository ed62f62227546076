/**
 * The relay with programs nobody here wrote: Debian's swaks as a client, and private Postfix
 * instances both as a client that uses the relay as its relayhost (the smart-host setup IT uses)
 * and as the upstream the relay delivers to. Requires `bash .ci/install-interop.sh` (CI runs it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireTools, sendViaSwaks, startPostfix, postfixSendmail, stopAllPostfix, type PostfixInstance } from './postfix.js';
import { reply, startUpstream, type RecordingUpstream } from '../helpers/upstream.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { decodedText } from '../helpers/mime.js';

const MESSAGE = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));
const PIXEL = 'list-manage.com/track/open.php';
const CLICK = 'list-manage.com/track/click';

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
let relay: Awaited<ReturnType<typeof startTestRelay>>;
const postfixes: PostfixInstance[] = [];

beforeAll(() => {
  requireTools();
});
afterAll(async () => {
  await stopAllPostfix();
});
beforeEach(async () => {
  tmp = await makeTempDir();
  up = await startUpstream();
});
afterEach(async () => {
  for (const p of postfixes.splice(0)) await p.stop();
  await relay?.close();
  await up.close();
  await tmp.cleanup();
});

async function startRelayTo(upstreamPort: number): Promise<void> {
  relay = await startTestRelay(relayConfig(tmp.path, upstreamPort));
}

describe('swaks as the client', () => {
  it('delivers through the relay: 250, stripped copy upstream with the envelope swaks gave', async () => {
    await startRelayTo(up.port);
    const r = await sendViaSwaks({ port: relay.port, from: 'sales@example.com', to: ['alice@example.org'], data: MESSAGE });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/<-\s+250-ENHANCEDSTATUSCODES/);
    expect(r.stdout).toMatch(/<-\s+250 2\.\d\.\d /);
    const [got] = await up.waitFor(1, 10_000);
    expect(got!.from).toBe('sales@example.com');
    expect(got!.to).toEqual(['alice@example.org']);
    const text = await decodedText(got!.raw);
    expect(text).not.toContain(PIXEL);
    expect(text).not.toContain(CLICK);
  });

  it('sees the 451 when the upstream temp-fails everything', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' ? reply(451, '4.3.0 try later') : 'accept'));
    await startRelayTo(up.port);
    const r = await sendViaSwaks({ port: relay.port, from: 'sales@example.com', to: ['alice@example.org'], data: MESSAGE });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/<\*\*\s+451 /);
    expect(up.received).toHaveLength(0);
  });

  it('gets a 5xx for a recipient that is not an address', async () => {
    await startRelayTo(up.port);
    const r = await sendViaSwaks({ port: relay.port, from: 'sales@example.com', to: ['not-an-address'], data: MESSAGE });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/<\*\*\s+5\d\d /);
  });
});

describe('Postfix as the client (relayhost = the relay)', () => {
  it('hands mail to the relay, which makes one copy per consent class', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    await startRelayTo(up.port);
    const pf = await startPostfix({ relayhost: `127.0.0.1:${relay.port}`, name: 'client' });
    postfixes.push(pf);
    const sent = await postfixSendmail(pf, { from: 'sales@example.com', to: ['full@example.org', 'none@example.org'], raw: MESSAGE });
    expect(sent.code, sent.stderr).toBe(0);
    const got = await up.waitFor(2, 20_000);
    await pf.queueEmpty(20_000);
    const byRcpt = new Map(got.map((g) => [g.to.join(','), g]));
    expect([...byRcpt.keys()].sort()).toEqual(['full@example.org', 'none@example.org']);
    expect(await decodedText(byRcpt.get('full@example.org')!.raw)).toContain(PIXEL);
    expect(await decodedText(byRcpt.get('none@example.org')!.raw)).not.toContain(PIXEL);
  });

  it('keeps the mail queued while the relay answers 451, and delivers it once the relay can filter again', { timeout: 90_000 }, async () => {
    let soft = true;
    up.setBehaviour((s) => (soft && s.stage === 'rcpt' ? reply(451, '4.3.0 upstream busy') : 'accept'));
    await startRelayTo(up.port);
    const pf = await startPostfix({ relayhost: `127.0.0.1:${relay.port}`, name: 'retrying' });
    postfixes.push(pf);
    expect((await postfixSendmail(pf, { from: 'sales@example.com', to: ['none@example.org'], raw: MESSAGE })).code).toBe(0);
    await new Promise((r) => setTimeout(r, 2500));
    expect(up.received).toHaveLength(0);
    soft = false;
    // drive Postfix's retry (postqueue -f) instead of waiting for its timers, which slip by tens of
    // seconds on a loaded machine
    const deadline = Date.now() + 60_000;
    while (up.received.length === 0 && Date.now() < deadline) {
      await pf.flush();
      await up.waitFor(1, 3_000).catch(() => undefined);
    }
    const [got] = await up.waitFor(1, 1_000);
    await pf.queueEmpty(20_000);
    expect(await decodedText(got!.raw)).not.toContain(PIXEL);
  });
});

describe('Postfix as the upstream', () => {
  it('accepts the filtered copies and relays them on', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    const pf = await startPostfix({ relayhost: `127.0.0.1:${up.port}`, name: 'upstream' });
    postfixes.push(pf);
    await startRelayTo(pf.port);
    const res = await send(relay.port, 'sales@example.com', ['full@example.org', 'none@example.org'], MESSAGE);
    expect(res.code).toBe(250);
    const got = await up.waitFor(2, 20_000);
    await pf.queueEmpty(20_000);
    const none = got.find((g) => g.to.includes('none@example.org'))!;
    const full = got.find((g) => g.to.includes('full@example.org'))!;
    expect(await decodedText(none.raw)).not.toContain(PIXEL);
    expect(await decodedText(full.raw)).toContain(PIXEL);
  });

  it("passes Postfix's permanent rejection back to the client", async () => {
    const pf = await startPostfix({
      relayhost: `127.0.0.1:${up.port}`,
      name: 'strict',
      config: { smtpd_recipient_restrictions: 'check_recipient_access inline:{ blocked@example.org=REJECT }, permit_mynetworks, reject' },
    });
    postfixes.push(pf);
    await startRelayTo(pf.port);
    const res = await send(relay.port, 'sales@example.com', ['blocked@example.org'], MESSAGE);
    expect(res.code).toBe(554);
    expect(res.response).toMatch(/Recipient address rejected/);
    expect(up.attempts).toHaveLength(0);
  });

  it('the whole smart-host chain: Postfix client -> relay -> Postfix upstream -> destination', async () => {
    const downstream = await startPostfix({ relayhost: `127.0.0.1:${up.port}`, name: 'down' });
    postfixes.push(downstream);
    await startRelayTo(downstream.port);
    const client = await startPostfix({ relayhost: `127.0.0.1:${relay.port}`, name: 'edge' });
    postfixes.push(client);
    expect((await postfixSendmail(client, { from: 'sales@example.com', to: ['none@example.org'], raw: MESSAGE })).code).toBe(0);
    const [got] = await up.waitFor(1, 30_000);
    await client.queueEmpty(20_000);
    await downstream.queueEmpty(20_000);
    const text = await decodedText(got!.raw);
    expect(text).not.toContain(PIXEL);
    expect(text).toContain('list-manage.com/unsubscribe');
  });
});
