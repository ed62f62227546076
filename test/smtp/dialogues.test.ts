/**
 * SMTP dialogues: commands in, exact replies out, one data file per conversation
 * (test/smtp/dialogues/README.md has the format). A reply that changes, even by its text, shows up
 * here as a diff a reviewer reads, rather than slipping through a test that checks only the code.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/run.js';
import { RawSmtp } from '../helpers/rawSmtp.js';
import { grant, relayConfig, startTestRelay } from '../helpers/relay.js';
import { useRelayScene } from '../helpers/scene.js';
import type { Scene } from '../helpers/scene.js';
import { reply } from '../helpers/upstream.js';
import type { ConsentScope } from '../../src/consent/store.js';

type Step = { readonly send: Buffer; readonly label: string; readonly expect: string[] } | { readonly greeting: true; readonly expect: string[] };

interface Dialogue {
  readonly config: Record<string, unknown>;
  readonly consent: Array<{ address: string; scopes: ConsentScope[] }>;
  readonly upstreamRcpt: Array<{ prefix: string; code: number; message: string }>;
  readonly delivered: number | null;
  readonly steps: Step[];
}

/** Authoring aid: DIALOGUE_RECORD=1 writes each actual conversation to $TMPDIR/NAME.actual instead of comparing. */
const RECORD = process.env.DIALOGUE_RECORD === '1';
const DIR = join(import.meta.dirname, 'dialogues');

function unescapeStep(s: string): string {
  return s.replace(/\\([rnt\\])/g, (_m, c: string) => ({ r: '\r', n: '\n', t: '\t', '\\': '\\' })[c]!);
}

/** The file's body as DATA sends it: CRLF lines, a leading dot doubled, then the end-of-data line. */
function dataBody(file: string): Buffer {
  const text = readFileSync(join(ROOT, file), 'latin1').replace(/\r?\n/g, '\r\n');
  const stuffed = text.replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
}

function parse(name: string): Dialogue {
  const d: { -readonly [K in keyof Dialogue]: Dialogue[K] } = { config: {}, consent: [], upstreamRcpt: [], delivered: null, steps: [] };
  const lines = readFileSync(join(DIR, name), 'utf8').split('\n');
  lines.forEach((line, i) => {
    const where = `${name}:${i + 1}`;
    if (line.trim() === '' || line.startsWith('#')) return;
    const m = /^(S|C|D|R|!): ?(.*)$/.exec(line) ?? /^(!) (.*)$/.exec(line);
    if (!m) throw new Error(`${where}: a line starts with "S: ", "C: ", "D: ", "R: ", "! " or "#"`);
    const [, tag, rest] = m as unknown as [string, string, string];
    const last = d.steps.at(-1);
    switch (tag) {
      case 'S':
        if (!last) d.steps.push({ greeting: true, expect: [rest] });
        else last.expect.push(rest);
        break;
      case 'C':
        d.steps.push({ send: Buffer.from(`${rest}\r\n`, 'latin1'), label: rest, expect: [] });
        break;
      case 'D':
        d.steps.push({ send: dataBody(rest.trim()), label: `<data ${rest.trim()}>`, expect: [] });
        break;
      case 'R':
        d.steps.push({ send: Buffer.from(unescapeStep(rest), 'latin1'), label: JSON.stringify(unescapeStep(rest)), expect: [] });
        break;
      default: {
        const [verb, ...args] = rest.split(' ');
        if (verb === 'config') Object.assign(d.config, JSON.parse(args.join(' ')) as Record<string, unknown>);
        else if (verb === 'consent') d.consent.push({ address: args[0]!, scopes: args[1]!.split(',') as ConsentScope[] });
        else if (verb === 'upstream' && args[0] === 'rcpt') d.upstreamRcpt.push({ prefix: args[1]!, code: Number(args[2]), message: args.slice(3).join(' ') });
        else if (verb === 'delivered') d.delivered = Number(args[0]);
        else throw new Error(`${where}: unknown directive "! ${verb}"`);
      }
    }
  });
  for (const s of d.steps) if (s.expect.length === 0) throw new Error(`${name}: ${'label' in s ? s.label : 'greeting'} has no S: reply`);
  return d;
}

/** "{*}" matches any text; everything else literally. */
function lineMatches(expected: string, actual: string): boolean {
  const re = new RegExp(
    `^${expected
      .split('{*}')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(actual);
}

const names = readdirSync(DIR)
  .filter((f) => f.endsWith('.dialogue'))
  .sort();
let scene: Scene;
const toClose: Array<() => Promise<void> | void> = [];
useRelayScene((s) => (scene = s), toClose);

it('has dialogues for each SMTP stage', () => {
  expect(names.length).toBeGreaterThanOrEqual(8);
});

describe.each(names)('%s', (name) => {
  it('replies exactly as written', async () => {
    const d = parse(name);
    for (const c of d.consent) await grant(scene.tmp.path, c.address, c.scopes);
    if (d.upstreamRcpt.length > 0)
      scene.up.setBehaviour((s) => {
        if (s.stage !== 'rcpt') return 'accept';
        const r = d.upstreamRcpt.find((u) => s.address.startsWith(u.prefix));
        return r ? reply(r.code, r.message) : 'accept';
      });
    const relay = await startTestRelay(relayConfig(scene.tmp.path, scene.up.port, d.config));
    toClose.push(() => relay.close());
    const c = await RawSmtp.open(relay.port);
    toClose.push(() => c.close());
    const transcript: string[] = [];
    for (const step of d.steps) {
      if ('send' in step) {
        transcript.push(`C: ${step.label}`);
        c.write(step.send);
      }
      const r = await c.reply();
      const got = r.code === 0 ? ['(connection closed)'] : r.text.split(/\r?\n/);
      transcript.push(...got.map((l) => `S: ${l}`));
      const ok = got.length === step.expect.length && step.expect.every((e, i) => lineMatches(e, got[i]!));
      if (RECORD) continue;
      expect(ok, `reply differs; the dialogue so far:\n${transcript.join('\n')}\nexpected:\n${step.expect.map((e) => `S: ${e}`).join('\n')}`).toBe(true);
    }
    if (RECORD) {
      writeFileSync(join(tmpdir(), `${name}.actual`), `${transcript.join('\n')}\n`);
      return;
    }
    if (d.delivered !== null) {
      for (let i = 0; i < 100 && scene.up.received.length < d.delivered; i++) await new Promise((r) => setTimeout(r, 20));
      expect(scene.up.received.length, 'messages the upstream received').toBe(d.delivered);
    }
  });
});
