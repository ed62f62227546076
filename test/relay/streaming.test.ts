/**
 * Large messages go through the relay as streams: the engine reads the spill file once and holds
 * only the parts it inspects, the attachment stays a range of the file on its way to the upstream
 * and into the spool. Over real sockets, the upstream's bytes compared with the in-memory engine's.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isFileRange, segmentLength } from '../../src/segments.js';
import type { Engine } from '../../src/pipeline/relay.js';
import { rewriteMessage, rewriteSegments, type SegmentsResult } from '../../src/rewrite/engine.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { decodedText } from '../helpers/mime.js';
import { withoutTrace } from '../helpers/received.js';
import { relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene } from '../helpers/scene.js';
import { reply, type RecordingUpstream } from '../helpers/upstream.js';

const PIXEL = 'https://example.us5.list-manage.com/track/open.php?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=3c5e7a9b1d&e=f1e2d3c4b5';
const CLICK = 'https://example.us5.list-manage.com/track/click?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=3c5e7a9b1d&e=f1e2d3c4b5';

/** A newsletter with trackers, a picture and a large base64 attachment (`size` bytes of it). */
function largeMessage(size: number): { raw: Buffer; attachment: string } {
  const attachment = randomBytes(Math.floor((size * 3) / 4))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n')
    .replace(/\r\n$/, '');
  const raw = Buffer.from(
    [
      'From: Reports <reports@example.com>',
      'To: someone@example.org',
      'Subject: Quarterly report',
      'Message-ID: <large@example.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="mixed"',
      '',
      'This is a multi-part message in MIME format.',
      '--mixed',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      `<html><body><p>Quarterly report attached.</p><a href=3D"${CLICK}">Read online</a>`,
      `<img src=3D"${PIXEL}" width=3D"1" height=3D"1"><img src=3D"https://www.example.com/logo.png" alt=3D"logo"></body></html>`,
      '--mixed',
      'Content-Type: application/pdf; name="report.pdf"',
      'Content-Disposition: attachment; filename="report.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      attachment,
      '--mixed--',
      '',
    ].join('\r\n'),
  );
  return { raw, attachment };
}

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const toClose: Array<() => Promise<void>> = [];

useRelayScene((s) => ({ tmp, up } = s), toClose);

/** The relay with the real engine, keeping what the engine returned. */
async function relay(extra: Record<string, unknown> = {}) {
  const results: SegmentsResult[] = [];
  const engine: Engine = async (input, opts) => {
    const r = await rewriteSegments(input, opts);
    results.push(r);
    return r;
  };
  const r = await startTestRelay(relayConfig(tmp.path, up.port, { limits: { maxMessageSize: '20MB' }, ...extra }), { engine });
  toClose.push(() => r.close());
  return { ...r, results };
}

describe('large messages are streamed', () => {
  it('a large attachment reaches the upstream byte for byte, trackers removed, and was never held by the engine', async () => {
    const r = await relay();
    const { raw, attachment } = largeMessage(6_000_000);
    const res = await send(r.port, 'reports@example.com', ['someone@example.org'], raw);
    expect(res.code, res.response).toBe(250);
    const [got] = await up.waitFor(1, 10_000);
    // the same message filtered whole in memory: the streamed copy is exactly that
    const expected = await rewriteMessage(raw, { consent: { opens: false, clicks: false }, rules: loadRules(), recipients: ['someone@example.org'] });
    expect(expected.changed).toBe(true);
    expect(withoutTrace(got!.raw).equals(expected.output), 'upstream bytes = the in-memory engine output').toBe(true);
    const delivered = got!.raw.toString('latin1');
    expect(delivered).toContain(`\r\n\r\n${attachment}\r\n--mixed--\r\n`);
    expect(delivered).not.toContain('track/open.php');
    expect(delivered).toContain('https://www.example.com/logo.png');
    // the engine read the HTML part only; the attachment went out as a range of the spill file
    const [result] = r.results;
    expect(result!.inspectedBytes).toBeLessThan(2000);
    const ranges = result!.output.filter(isFileRange);
    expect(ranges.reduce((n, s) => n + segmentLength(s), 0)).toBeGreaterThan(attachment.length);
  }, 60_000);

  it('in worker threads: the worker reads the spill file itself, and the upstream gets the same bytes', async () => {
    const r = await startTestRelay(relayConfig(tmp.path, up.port, { limits: { maxMessageSize: '20MB' }, engine: { workers: 1 } }));
    toClose.push(() => r.close());
    const { raw, attachment } = largeMessage(6_000_000);
    const res = await send(r.port, 'reports@example.com', ['someone@example.org'], raw);
    expect(res.code, res.response).toBe(250);
    const [got] = await up.waitFor(1, 10_000);
    const expected = await rewriteMessage(raw, { consent: { opens: false, clicks: false }, rules: loadRules(), recipients: ['someone@example.org'] });
    expect(withoutTrace(got!.raw).equals(expected.output)).toBe(true);
    expect(got!.raw.toString('latin1')).toContain(attachment);
  }, 60_000);

  it('an unchanged large message (no tracker in it) is delivered as it came', async () => {
    const r = await relay();
    const { raw } = largeMessage(4_000_000);
    const clean = Buffer.from(
      raw
        .toString('latin1')
        .replace(/<a href=3D"[^"]*">Read online<\/a>/, '')
        .replace(/<img src=3D"https:\/\/example\.us5[^>]*>/, ''),
      'latin1',
    );
    const res = await send(r.port, 'reports@example.com', ['someone@example.org'], clean);
    expect(res.code, res.response).toBe(250);
    const [got] = await up.waitFor(1, 10_000);
    expect(r.results[0]!.changed).toBe(false);
    expect(withoutTrace(got!.raw).equals(clean)).toBe(true);
  }, 60_000);

  it('a large copy the upstream defers is spooled as a stream and delivered later intact', async () => {
    let soft = true;
    up.setBehaviour((s) => (soft && s.stage === 'rcpt' && s.address === 'later@example.org' ? reply(451, '4.2.0 mailbox busy') : 'accept'));
    const r = await relay();
    const { raw, attachment } = largeMessage(5_000_000);
    const res = await send(r.port, 'reports@example.com', ['now@example.org', 'later@example.org'], raw);
    expect(res.code, res.response).toBe(250);
    const [entry] = await r.spool.list();
    expect(entry!.meta.envelope.to).toEqual(['later@example.org']);
    const stored = await r.spool.get(entry!.id);
    soft = false;
    const got = await up.waitFor(2, 20_000);
    expect(got[0]!.to).toEqual(['now@example.org']);
    expect(got[1]!.to).toEqual(['later@example.org']);
    // one consent class, one copy: what was delivered later is what was delivered at once, and what was spooled
    expect(got[1]!.raw.equals(got[0]!.raw)).toBe(true);
    expect(got[1]!.raw.equals(stored!.raw)).toBe(true);
    expect(got[1]!.raw.toString('latin1')).toContain(attachment);
    expect(await decodedText(got[1]!.raw)).not.toContain('track/open.php');
    await expect.poll(async () => (await r.spool.list()).length, { timeout: 5000 }).toBe(0);
  }, 60_000);

  it('a malformed large message is refused with 554 5.6.0 and nothing is sent', async () => {
    const r = await relay();
    const { raw } = largeMessage(4_000_000);
    // the declared boundary never occurs: every part, trackers included, would hide in the preamble
    const broken = Buffer.from(raw.toString('latin1').replace('boundary="mixed"', 'boundary="declared"'), 'latin1');
    const res = await send(r.port, 'reports@example.com', ['someone@example.org'], broken);
    expect(res.code, res.response).toBe(554);
    expect(res.response).toMatch(/^554 5\.6\.0 part 1: multipart\/mixed whose boundary never occurs/);
    await new Promise((res2) => setTimeout(res2, 200));
    expect(up.attempts).toHaveLength(0);
    expect(await r.spool.list()).toHaveLength(0);
  }, 60_000);
});
