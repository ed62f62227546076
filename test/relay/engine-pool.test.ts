/**
 * The engine in worker threads (engine.workers > 0), end to end over real SMTP: the copies the
 * upstream receives are byte for byte those of the inline engine, and a message over its CPU
 * budget is refused (554 5.3.4) without holding up the others or the pool.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene } from '../helpers/scene.js';
import { manyTrackers, message, textPart } from '../helpers/build.js';
import { withoutTrace } from '../helpers/received.js';
import type { RecordingUpstream } from '../helpers/upstream.js';

const fixture = (name: string): Buffer => readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', name));

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const toClose: Array<() => Promise<void>> = [];
useRelayScene((s) => ({ tmp, up } = s), toClose);

async function relay(engine: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const r = await startTestRelay(relayConfig(tmp.path, up.port, { engine, ...extra }));
  toClose.push(() => r.close());
  return r;
}

describe('the engine in worker threads', () => {
  it('delivers the same bytes as the inline engine, for every consent class', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    await grant(tmp.path, 'clicks@example.org', ['clicks']);
    const to = ['full@example.org', 'clicks@example.org', 'none@example.org', 'other@example.org'];
    const messages = [
      '50-newsletter-large.eml',
      '01-mailchimp-newsletter-qp.eml',
      '03-sendgrid-base64-html.eml',
      '09-sparkpost-iso-8859-1.eml',
      '45-legit-plaintext-only.eml',
      '08-postmark-receipt-pdf.eml',
    ].map(fixture);
    const copies = async (engine: Record<string, unknown>): Promise<Map<string, string>> => {
      const r = await relay(engine);
      const before = up.received.length;
      for (const m of messages) expect((await send(r.port, 'news@example.com', to, m)).code).toBe(250);
      const got = await up.waitFor(before + messages.length * 3, 10_000);
      // keyed by message and recipients: copies of one message may arrive in any order
      return new Map(got.slice(before).map((g) => [`${g.raw.toString('latin1').match(/^Subject: .*$/m)?.[0]} ${g.to.join(',')}`, withoutTrace(g.raw).toString('latin1')]));
    };
    const inline = await copies({ workers: 0 });
    const pooled = await copies({ workers: 2 });
    expect(pooled.size).toBe(messages.length * 3);
    expect([...pooled.keys()].sort()).toEqual([...inline.keys()].sort());
    for (const [k, v] of inline) expect(pooled.get(k), k).toBe(v);
    // the filtered copies really are filtered (not the input passed back): the newsletter differs by class
    const subject = fixture('50-newsletter-large.eml')
      .toString('latin1')
      .match(/^Subject: .*$/m)![0];
    expect(pooled.get(`${subject} none@example.org,other@example.org`)).not.toBe(pooled.get(`${subject} full@example.org`));
  });

  it('refuses a message over its CPU budget with 554 5.3.4; the others and later ones go through', async () => {
    // 16 MB of HTML: over the default memory budget's charge (smtp/budget.ts), which would refuse it first
    const r = await relay({ workers: 2, cpuBudget: '1s' }, { limits: { memoryBudget: '1GB' } });
    // ~150,000 trackers: seconds of work, far over 1 s on any machine
    const heavy = manyTrackers(150_000);
    const small = message(textPart('text/plain', 'See you at ten.\r\n'));
    const [big, quick] = await Promise.all([send(r.port, 'news@example.com', ['a@example.org'], heavy), send(r.port, 'me@example.com', ['b@example.org'], small)]);
    expect(big.code).toBe(554);
    expect(big.response).toMatch(/5\.3\.4 .*CPU budget/);
    expect(quick.code).toBe(250);
    // the terminated worker was replaced: the pool still filters
    const after = await send(r.port, 'me@example.com', ['c@example.org'], fixture('01-mailchimp-newsletter-qp.eml'));
    expect(after.code).toBe(250);
    const got = await up.waitFor(2, 5000);
    expect(got.map((g) => g.to.join(',')).sort()).toEqual(['b@example.org', 'c@example.org']);
    expect(got.find((g) => g.to[0] === 'c@example.org')!.raw.toString('latin1')).not.toContain('list-manage.com/track/open.php');
  });
});
