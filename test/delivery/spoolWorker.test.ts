import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Spool, SpoolWorker, retryDelay } from '../../src/delivery/spool.js';
import type { SpoolMeta } from '../../src/delivery/spool.js';
import type { Copy, CopyOutcome } from '../../src/delivery/types.js';
import type { Upstream } from '../../src/delivery/upstream.js';
import { SmtpUpstream } from '../../src/delivery/upstream.js';
import { startUpstream } from '../helpers/upstream.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const RAW = Buffer.from('Subject: s\r\n\r\nbody\r\n');
const T0 = Date.UTC(2030, 0, 1);

function meta(over: Partial<SpoolMeta> = {}): SpoolMeta {
  return {
    envelope: { from: 'a@example.com', to: ['b@example.org'] },
    consentClass: 'none',
    messageId: null,
    queueId: 'Q1',
    attempts: 1,
    firstAttemptAt: new Date(T0).toISOString(),
    nextAttemptAt: new Date(T0).toISOString(),
    lastError: null,
    failures: [],
    ...over,
  };
}

/** An upstream whose sends complete only when the test says so. */
class GatedUpstream implements Upstream {
  readonly sent: Copy[] = [];
  private releases: Array<() => void> = [];
  async send(copy: Copy): Promise<CopyOutcome> {
    this.sent.push(copy);
    await new Promise<void>((resolve) => this.releases.push(resolve));
    return { accepted: [...copy.envelope.to], failed: [], response: '250 ok' };
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
  async close(): Promise<void> {}
}

describe('SpoolWorker', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  let spool: Spool;
  beforeEach(async () => {
    tmp = await makeTempDir();
    spool = await Spool.open(tmp.path);
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('backs off exponentially up to the maximum', () => {
    const p = { initialDelayMs: 1000, factor: 3, maxDelayMs: 20_000, giveUpAfterMs: 1e9 };
    expect([1, 2, 3, 4, 50, 5000].map((n) => retryDelay(p, n))).toEqual([1000, 3000, 9000, 20_000, 20_000, 20_000]);
  });

  it('stop() waits for the attempt in flight, and its result is on disk when it resolves', async () => {
    const id = await spool.enqueue(meta(), RAW);
    const upstream = new GatedUpstream();
    const w = new SpoolWorker({ spool, upstream, now: () => T0, pollIntervalMs: 10 });
    w.start();
    while (upstream.sent.length === 0) await new Promise((r) => setTimeout(r, 5));
    let stopped = false;
    const stopping = w.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(stopped).toBe(false);
    upstream.release();
    await stopping;
    expect(await spool.get(id)).toBeNull();
    // no new passes after stop
    await spool.enqueue(meta(), RAW);
    await new Promise((r) => setTimeout(r, 50));
    expect(upstream.sent).toHaveLength(1);
  });

  it('a kick during a pass runs another pass afterwards, and an entry is never attempted twice at once', async () => {
    await spool.enqueue(meta(), RAW);
    const upstream = new GatedUpstream();
    const w = new SpoolWorker({ spool, upstream, now: () => T0 });
    const first = w.kick();
    while (upstream.sent.length === 0) await new Promise((r) => setTimeout(r, 5));
    await spool.enqueue(meta({ consentClass: 'late' }), RAW);
    const second = w.kick();
    expect(upstream.sent).toHaveLength(1);
    upstream.release();
    await first;
    while (upstream.sent.length < 2) await new Promise((r) => setTimeout(r, 5));
    upstream.release();
    await second;
    expect(upstream.sent.map((c) => c.consentClass)).toEqual(['none', 'late']);
    expect(await spool.list()).toEqual([]);
  });

  it('a new Spool and worker after a restart deliver what the old process spooled, once', async () => {
    const up = await startUpstream();
    const upstream = new SmtpUpstream({ host: '127.0.0.1', port: up.port });
    try {
      await spool.enqueue(meta({ envelope: { from: 'a@example.com', to: ['b@example.org', 'c@example.org'] } }), RAW);
      const reopened = await Spool.open(tmp.path);
      const w = new SpoolWorker({ spool: reopened, upstream, now: () => T0 });
      await w.kick();
      await w.kick();
      expect(up.received.map((t) => t.to)).toEqual([['b@example.org', 'c@example.org']]);
      expect(up.received[0]?.raw.equals(RAW)).toBe(true);
      expect(await reopened.list()).toEqual([]);
    } finally {
      await upstream.close();
      await up.close();
    }
  });
});
