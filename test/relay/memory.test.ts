/**
 * Memory bounded by configuration: limits.memoryBudget charges every message in flight; when it is
 * spent a new message waits limits.memoryWait and then gets 452 4.3.1; large messages are received
 * into a private file, not into memory. Over real sockets; an engine held at a gate keeps a
 * message in flight for as long as the test needs. (Peak RSS is measured by `npm run bench:memory`.)
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRelayError } from '../../src/errors.js';
import type { Engine } from '../../src/pipeline/relay.js';
import { rewriteMessage } from '../../src/rewrite/engine.js';
import { decodedText } from '../helpers/mime.js';
import { relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene } from '../helpers/scene.js';
import type { RecordingUpstream } from '../helpers/upstream.js';

const MAILCHIMP = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));

/** An HTML part with a tracking pixel and a base64 attachment of about `size` bytes. */
function withAttachment(size: number): Buffer {
  const b64 = randomBytes(Math.floor((size * 3) / 4)).toString('base64').replace(/.{76}/g, '$&\r\n');
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

describe('memory budget', () => {
  it('a message that does not fit waits, then gets 452 4.3.1; small mail still flows; the large one was spilled to a 0600 file', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let held = 0;
    // messages over 1 MB wait at the gate: they stay in flight, holding their share of the budget
    const engine: Engine = async (raw, opts) => {
      if (raw.length > 1_000_000) {
        held++;
        await gate;
      }
      return rewriteMessage(raw, opts);
    };
    const r = await startTestRelay(relayConfig(tmp.path, up.port, { limits: { maxMessageSize: '2MB', memoryBudget: '8MB', memoryWait: '300ms' } }), { engine });
    toClose.push(() => r.close());
    const incoming = join(tmp.path, 'incoming');
    expect(statSync(incoming).mode & 0o777).toBe(0o700);

    const big = withAttachment(1_500_000);
    const first = send(r.port, 'a@example.com', ['alice@example.org'], big);
    while (held === 0) await new Promise((res) => setTimeout(res, 20));
    // received over 1 MB: it went to a private file, not into memory
    const files = readdirSync(incoming);
    expect(files).toHaveLength(1);
    expect(statSync(join(incoming, files[0]!)).mode & 0o777).toBe(0o600);
    expect(statSync(join(incoming, files[0]!)).size).toBe(big.length);

    // 4 × 1.5 MB is charged for the first; a second one does not fit in 8 MB
    const started = Date.now();
    const second = await send(r.port, 'a@example.com', ['bob@example.org'], big);
    expect(second.code, second.response).toBe(452);
    expect(second.response).toMatch(/452 4\.3\.1 insufficient system storage/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // small mail fits beside it and is not held up
    const small = await send(r.port, 'a@example.com', ['carol@example.org'], MAILCHIMP);
    expect(small.code, small.response).toBe(250);

    open();
    expect((await first).code).toBe(250);
    const got = await up.waitFor(2, 5000);
    const bigCopy = got.find((g) => g.to.includes('alice@example.org'))!;
    expect(await decodedText(bigCopy.raw)).not.toContain('track/open.php');
    // the spill file goes with the transaction (just after its reply), and the budget is whole again
    const emptied = async (): Promise<string[]> => {
      for (let i = 0; i < 100 && readdirSync(incoming).length > 0; i++) await new Promise((res) => setTimeout(res, 20));
      return readdirSync(incoming);
    };
    expect(await emptied()).toEqual([]);
    expect((await send(r.port, 'a@example.com', ['bob@example.org'], big)).code).toBe(250);
    expect(await emptied()).toEqual([]);
  }, 30_000);

  it('refuses to start when the budget cannot hold the largest message', async () => {
    const err = await startTestRelay(relayConfig(tmp.path, up.port, { limits: { maxMessageSize: '100MB', memoryBudget: '256MB' } })).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isRelayError(err) && err.code).toBe('CONFIG_INVALID');
    expect(String((err as Error).message)).toMatch(/limits\.memoryBudget .* less than 4 × limits\.maxMessageSize/);
  });
});
