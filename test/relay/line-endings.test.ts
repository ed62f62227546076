/**
 * One canonical form: whatever line endings a client sends (bare CR, bare LF, a mix), the engine
 * inspects CRLF lines and the upstream receives exactly the bytes the engine returned. Over real
 * sockets: a raw client (nodemailer would fix the line endings itself), the relay, a recording
 * upstream.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { isCanonical } from '../../src/mime/canonical.js';
import type { Engine } from '../../src/pipeline/relay.js';
import { segmentsToBuffer } from '../../src/segments.js';
import { rewriteMessage, rewriteSegments, type RewriteResult } from '../../src/rewrite/engine.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import type { Consent } from '../../src/rewrite/types.js';
import { decodedText } from '../helpers/mime.js';
import { rawSend } from '../helpers/rawSmtp.js';
import { withoutTrace } from '../helpers/received.js';
import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene } from '../helpers/scene.js';
import type { RecordingUpstream } from '../helpers/upstream.js';

const GOLDEN = join(import.meta.dirname, '..', '..', 'fixtures', 'golden');
const MAILCHIMP = readFileSync(join(GOLDEN, '01-mailchimp-newsletter-qp.eml'));
const TRACKERS = ['list-manage.com/track/open.php', 'list-manage.com/track/click'];
const rules = loadRules();

type Ending = '\r\n' | '\n' | '\r';
/**
 * The message with its line endings replaced: a fixed one, or one chosen per line. A bare CR that
 * ends the line before an empty one ending in bare LF would make one CRLF of the two (every reader
 * sees one line ending there), so that empty line gets CRLF: the message keeps its lines.
 */
function withEndings(raw: Buffer, pick: (i: number) => Ending): Buffer {
  let i = 0;
  let prev: { end: number; ending: Ending } | null = null;
  const text = raw.toString('latin1').replace(/\r\n/g, (_m: string, offset: number) => {
    let ending = pick(i++);
    if (ending === '\n' && prev?.ending === '\r' && prev.end === offset) ending = '\r\n';
    prev = { end: offset + 2, ending };
    return ending;
  });
  return Buffer.from(text, 'latin1');
}

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const toClose: Array<() => Promise<void>> = [];

useRelayScene((s) => ({ tmp, up } = s), toClose);

/** The relay with the real engine, recording what the engine returned for each copy. */
async function relay(extra: Record<string, unknown> = {}) {
  const outputs: RewriteResult[] = [];
  const engine: Engine = async (input, opts) => {
    const r = await rewriteSegments(input, opts);
    // what the engine returned, joined: the upstream must receive exactly these bytes
    outputs.push({ output: await segmentsToBuffer(r.output), findings: r.findings, changed: r.changed });
    return r;
  };
  const r = await startTestRelay(relayConfig(tmp.path, up.port, extra), { engine });
  toClose.push(() => r.close());
  return { ...r, outputs };
}

describe('line endings are made canonical before the engine reads the message', () => {
  const variants: Array<[string, (i: number) => Ending]> = [
    ['bare CR', () => '\r'],
    ['bare LF', () => '\n'],
    ['mixed CR, LF and CRLF', (i) => (['\r', '\n', '\r\n'] as const)[i % 3]!],
    ['bare CR only in the header', (i) => (i < 12 ? '\r' : '\r\n')],
  ];
  for (const [name, pick] of variants) {
    it(`${name}: accepted, and no tracker reaches the upstream`, async () => {
      const r = await relay();
      const res = await rawSend(r.port, 'news@example.com', ['alice@example.org'], withEndings(MAILCHIMP, pick));
      expect(res.code, res.text).toBe(250);
      const [got] = await up.waitFor(1, 5000);
      expect(isCanonical(got!.raw)).toBe(true);
      const text = await decodedText(got!.raw);
      for (const t of TRACKERS) expect(text).not.toContain(t);
      expect(text).toContain('list-manage.com/unsubscribe');
      expect(r.outputs[0]!.findings.length).toBeGreaterThanOrEqual(5);
      expect(got!.raw.equals(r.outputs[0]!.output), 'the upstream got the engine output byte for byte').toBe(true);
    });
  }

  it('smtp.bareLineEndings: reject refuses bare line endings with 550 5.5.2 and delivers nothing', async () => {
    const r = await relay({ smtp: { bareLineEndings: 'reject' } });
    for (const pick of [(): Ending => '\n', (): Ending => '\r', (i: number): Ending => (i === 5 ? '\r' : '\r\n')]) {
      const res = await rawSend(r.port, 'news@example.com', ['alice@example.org'], withEndings(MAILCHIMP, pick));
      expect(res.code, res.text).toBe(550);
      expect(res.text).toMatch(/^550 5\.5\.2 .*bare CR or LF/);
    }
    // a CRLF message on the same listener still goes through
    expect((await rawSend(r.port, 'news@example.com', ['alice@example.org'], MAILCHIMP)).code).toBe(250);
    await up.waitFor(1, 5000);
    await new Promise((res) => setTimeout(res, 100));
    expect(up.received).toHaveLength(1);
    expect(r.outputs).toHaveLength(1);
  });
});

describe('the upstream receives the engine output byte for byte', () => {
  // lines that start with a dot go through dot-stuffing twice (client -> relay, relay -> upstream)
  const DOTS = [
    'From: News <news@example.com>',
    'To: alice@example.org',
    'Subject: dots',
    'Message-ID: <dots@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    '.',
    '..two dots',
    '.leading dot',
    'plain line',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Hello</p>',
    '.<img src="https://example.us5.list-manage.com/track/open.php?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=3c5e7a9b1d&e=f1e2d3c4b5" width="1" height="1">',
    '.',
    '--b1--',
    '',
  ].join('\r\n');

  it('nodemailer sends the canonical engine output unchanged, dot lines included', async () => {
    const r = await relay();
    // through nodemailer as the client too: both hops stuff and un-stuff the dots
    const res = await send(r.port, 'news@example.com', ['alice@example.org'], DOTS);
    expect(res.code, res.response).toBe(250);
    const [got] = await up.waitFor(1, 5000);
    const out = r.outputs[0]!;
    expect(out.changed).toBe(true);
    expect(got!.raw.equals(out.output)).toBe(true);
    const lines = got!.raw.toString('latin1').split('\r\n');
    expect(lines).toContain('.');
    expect(lines).toContain('..two dots');
    expect(lines).toContain('.leading dot');
    expect(got!.raw.toString('latin1')).not.toContain('track/open.php');
  });

  it('a message nobody needs stripped arrives as the canonical bytes the client meant', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    const r = await relay();
    const lines = DOTS.split('\r\n').length - 1;
    // the last line keeps its CRLF: the raw client ends data with CRLF.CRLF, which would add one
    const res = await rawSend(
      r.port,
      'news@example.com',
      ['full@example.org'],
      withEndings(Buffer.from(DOTS), (i) => (i === lines - 1 ? '\r\n' : i % 2 ? '\n' : '\r')),
    );
    expect(res.code, res.text).toBe(250);
    const [got] = await up.waitFor(1, 5000);
    expect(withoutTrace(got!.raw).toString('latin1')).toBe(DOTS);
    expect(got!.raw.equals(r.outputs[0]!.output)).toBe(true);
  });
});

interface GoldenCase {
  consent: string;
  changed: boolean;
}
const trackerFixtures = readdirSync(GOLDEN)
  .filter((f) => f.endsWith('.eml'))
  .filter((f) => {
    const spec = YAML.parse(readFileSync(join(GOLDEN, f.replace(/\.eml$/, '.yaml')), 'utf8')) as { cases: GoldenCase[] };
    return spec.cases.some((c) => c.consent === 'none' && c.changed);
  })
  .map((f) => ({ name: f, raw: readFileSync(join(GOLDEN, f)) }));

const CLASSES: Array<{ address: string; consent: Consent }> = [
  { address: 'alice@example.org', consent: { opens: false, clicks: false } },
  { address: 'opens@example.org', consent: { opens: true, clicks: false } },
  { address: 'clicks@example.org', consent: { opens: false, clicks: true } },
];

describe('property: what the upstream receives has nothing left to remove', () => {
  it('random line endings in tracker-bearing golden messages, any consent class', async () => {
    expect(trackerFixtures.length).toBeGreaterThan(20);
    await grant(tmp.path, 'opens@example.org', ['opens']);
    await grant(tmp.path, 'clicks@example.org', ['clicks']);
    const r = await relay();
    let accepted = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...trackerFixtures),
        fc.constantFrom(...CLASSES),
        fc.array(fc.constantFrom<Ending>('\r\n', '\n', '\r'), { minLength: 1, maxLength: 64 }),
        async (fixture, cls, endings) => {
          runs++;
          const before = up.received.length;
          const data = withEndings(fixture.raw, (i) => endings[i % endings.length]!);
          const res = await rawSend(r.port, 'news@example.com', [cls.address], data);
          if (res.code !== 250) {
            // refused is fail-closed; but it must be a refusal, not something in between
            expect(res.code, `${fixture.name}: ${res.text}`).toBeGreaterThanOrEqual(400);
            return;
          }
          accepted++;
          const got = (await up.waitFor(before + 1, 5000))[before]!;
          expect(isCanonical(got.raw), fixture.name).toBe(true);
          const again = await rewriteMessage(got.raw, { consent: cls.consent, rules, recipients: [cls.address] });
          const left = again.findings.filter((f) => f.action !== 'keep');
          expect(
            left.map((f) => `${f.ruleId} ${f.url}`),
            `${fixture.name} as ${cls.address}`,
          ).toEqual([]);
          expect(again.changed).toBe(false);
        },
      ),
      { seed: 20261130, numRuns: 40 },
    );
    // the property is about accepted messages: make sure it was not vacuously true
    expect(accepted).toBeGreaterThan(runs * 0.8);
  }, 180_000);
});
