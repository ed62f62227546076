/**
 * Memory bounded by configuration: limits.memoryBudget charges every message in flight by its text
 * parts (attachments are streamed, not held); when it is spent a new message waits
 * limits.memoryWait and then gets 452 4.3.1; large messages are received into a private file. Over real sockets; an engine held at a gate keeps a
 * message in flight for as long as the test needs. (Peak RSS is measured by `npm run bench:memory`.)
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRelayError } from '../../src/errors.js';
import type { Engine } from '../../src/pipeline/relay.js';
import { rewriteSegments } from '../../src/rewrite/engine.js';
import { segmentsLength } from '../../src/segments.js';
import { messageCost } from '../../src/smtp/budget.js';
import { decodedText } from '../helpers/mime.js';
import { relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene } from '../helpers/scene.js';
import type { RecordingUpstream } from '../helpers/upstream.js';

const MAILCHIMP = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));

/** An HTML part with a tracking pixel and a base64 attachment of about `size` bytes. */
function withAttachment(size: number): Buffer {
  const b64 = randomBytes(Math.floor((size * 3) / 4))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: a@example.com',
      'To: alice@example.org',
      'Subject: big',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="m"',
      '',
      '--m',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>hi</p><img src="https://example.us5.list-manage.com/track/open.php?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=3c5e7a9b1d&e=f1e2d3c4b5" width="1" height="1">',
      '--m',
      'Content-Type: application/octet-stream; name="a.bin"',
      'Content-Disposition: attachment; filename="a.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '--m--',
      '',
    ].join('\r\n'),
  );
}

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const toClose: Array<() => Promise<void>> = [];

useRelayScene((s) => ({ tmp, up } = s), toClose);

/** An inline HTML part of about `size` bytes (a tracker, then paragraphs): all of it inspected text. */
function withHtml(size: number): Buffer {
  const para = '<p>Quarterly figures, region by region, with the notes the board asked for.</p>\r\n';
  return Buffer.from(
    [
      'From: a@example.com',
      'To: alice@example.org',
      'Subject: long',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<img src="https://example.us5.list-manage.com/track/open.php?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=3c5e7a9b1d&e=f1e2d3c4b5" width="1" height="1">',
      para.repeat(Math.ceil(size / para.length)),
    ].join('\r\n'),
  );
}

/** An engine that holds messages over 1 MB at a gate: they stay in flight, holding their share of the budget. */
function gatedEngine(): { engine: Engine; held: () => number; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let held = 0;
  const engine: Engine = async (input, opts) => {
    if (segmentsLength(input) > 1_000_000) {
      held++;
      await gate;
    }
    return rewriteSegments(input, opts);
  };
  return { engine, held: () => held, open };
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((res) => setTimeout(res, 20));
};

const emptied = async (dir: string): Promise<string[]> => {
  for (let i = 0; i < 100 && readdirSync(dir).length > 0; i++) await new Promise((res) => setTimeout(res, 20));
  return readdirSync(dir);
};

describe('memory budget', () => {
  it('attachments cost no budget: two large ones are filtered at once where their text alone fits; spilled to 0600 files', async () => {
    const g = gatedEngine();
    // under the old charge (4 × size) the two 7 MB messages would have taken 56 MB of the 48
    const r = await startTestRelay(relayConfig(tmp.path, up.port, { limits: { maxMessageSize: '10MB', memoryBudget: '48MB', memoryWait: '300ms' } }), { engine: g.engine });
    toClose.push(() => r.close());
    const incoming = join(tmp.path, 'incoming');
    expect(statSync(incoming).mode & 0o777).toBe(0o700);

    const big = withAttachment(7_000_000);
    const first = send(r.port, 'a@example.com', ['alice@example.org'], big);
    const second = send(r.port, 'a@example.com', ['bob@example.org'], big);
    await until(() => g.held() === 2);
    // both in flight at once, each received into a private file, not into memory
    expect(g.held()).toBe(2);
    const files = readdirSync(incoming);
    expect(files).toHaveLength(2);
    for (const f of files) {
      expect(statSync(join(incoming, f)).mode & 0o777).toBe(0o600);
      expect(statSync(join(incoming, f)).size).toBe(big.length);
    }
    g.open();
    expect((await first).code).toBe(250);
    expect((await second).code).toBe(250);
    const got = await up.waitFor(2, 5000);
    for (const copy of got) expect(await decodedText(copy.raw)).not.toContain('track/open.php');
    expect(await emptied(incoming)).toEqual([]);
  }, 30_000);

  it('text parts are charged: one that does not fit beside another waits, then gets 452 4.3.1; small mail still flows', async () => {
    const g = gatedEngine();
    const r = await startTestRelay(relayConfig(tmp.path, up.port, { limits: { maxMessageSize: '4MB', memoryBudget: '64MB', memoryWait: '300ms' } }), { engine: g.engine });
    toClose.push(() => r.close());
    // 1.2 MB of HTML: fits once in 64 MB at TEXT_FACTOR per byte plus the floor, not twice
    const html = withHtml(1_200_000);
    expect(messageCost(html.length)).toBeLessThan(64 * 1024 * 1024);
    expect(2 * messageCost(html.length)).toBeGreaterThan(64 * 1024 * 1024);
    const first = send(r.port, 'a@example.com', ['alice@example.org'], html);
    await until(() => g.held() === 1);
    const started = Date.now();
    const second = await send(r.port, 'a@example.com', ['bob@example.org'], html);
    expect(second.code, second.response).toBe(452);
    expect(second.response).toMatch(/452 4\.3\.1 insufficient system storage/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // small mail fits beside it and is not held up
    const small = await send(r.port, 'a@example.com', ['carol@example.org'], MAILCHIMP);
    expect(small.code, small.response).toBe(250);
    g.open();
    expect((await first).code).toBe(250);
    const got = await up.waitFor(2, 5000);
    expect(await decodedText(got.find((c) => c.to.includes('alice@example.org'))!.raw)).not.toContain('track/open.php');
    // the budget is whole again: the same message now fits
    expect((await send(r.port, 'a@example.com', ['bob@example.org'], html)).code).toBe(250);
    expect(await emptied(join(tmp.path, 'incoming'))).toEqual([]);
  }, 30_000);

  it('text parts the whole budget could never hold: 552 5.3.4 at once, nothing sent', async () => {
    const r = await startTestRelay(relayConfig(tmp.path, up.port, { limits: { maxMessageSize: '4MB', memoryBudget: '48MB', memoryWait: '10s' } }));
    toClose.push(() => r.close());
    const html = withHtml(1_500_000);
    expect(messageCost(html.length)).toBeGreaterThan(48 * 1024 * 1024);
    const res = await send(r.port, 'a@example.com', ['alice@example.org'], html);
    expect(res.code, res.response).toBe(552);
    expect(res.response).toMatch(/^552 5\.3\.4 text parts of \d+ bytes are more than this relay can inspect at once/);
    expect(up.attempts).toHaveLength(0);
  }, 30_000);

  it('refuses to start when the budget cannot hold one message of the size kept in memory', async () => {
    const err = await startTestRelay(relayConfig(tmp.path, up.port, { limits: { memoryBudget: '32MB' } })).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isRelayError(err) && err.code).toBe('CONFIG_INVALID');
    expect(String((err as Error).message)).toMatch(/limits\.memoryBudget \(33554432 bytes\) is less than what one 1048576-byte message costs/);
  });
});
