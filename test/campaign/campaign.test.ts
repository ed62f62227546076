/**
 * Campaign learning through the engine, with a real SQLite campaign store: three copies of one
 * newsletter that differ only in recipient tokens (fixtures/campaign), a second newsletter of the
 * same sender, and the store's bounds.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SqliteCampaignStore } from '../../src/campaign/sqlite.js';
import { rewriteMessage, type RewriteResult } from '../../src/rewrite/engine.js';
import type { LearnedTemplate } from '../../src/rewrite/analysis/campaign.js';
import { subjectSkeleton, urlShape, withoutParams } from '../../src/rewrite/analysis/campaign-key.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../../src/rewrite/types.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const dir = join(import.meta.dirname, '..', '..', 'fixtures', 'campaign');
const eml = (name: string): Buffer => readFileSync(join(dir, name));
const NOVEMBER = [
  { file: 'november-alice.eml', to: 'alice@example.org', tokens: ['q7Zk2', 'Xk3p9', 'u=a8f3'] },
  { file: 'november-bob.eml', to: 'bob@example.org', tokens: ['Lm4tR', 'Pq8sW', 'u=c2d9'] },
  { file: 'november-carol.eml', to: 'carol@example.org', tokens: ['Vb6nH', 'Ty2eK', 'u=f7e1'] },
];
/** What every copy shares and every copy must keep. */
const KEPT = ['https://cdn.shop.example/img/logo.png', 'https://www.shop.example/about', 'utm_campaign=nov26', 'src=nl'];

const rules = loadRules();
let tmp: { path: string; cleanup: () => Promise<void> };
let store: SqliteCampaignStore;
let learned: LearnedTemplate[];

beforeEach(async () => {
  tmp = await makeTempDir();
  store = new SqliteCampaignStore(tmp.path);
  learned = [];
});
afterEach(async () => {
  await store.close();
  await tmp.cleanup();
});

function filter(raw: Buffer, to: string, s: SqliteCampaignStore | null = store, now?: Date): Promise<RewriteResult> {
  return rewriteMessage(raw, {
    consent: NO_CONSENT,
    rules,
    recipients: [to],
    ...(s ? { campaign: { store: s, sender: `bounce+${to.replace('@', '=')}@mail.shop.example`, onLearned: (t: LearnedTemplate) => void learned.push(t), ...(now ? { now: () => now } : {}) } } : {}),
  });
}

/** The body text without the unsubscribe link, which must keep its token. */
function outsideUnsubscribe(out: Buffer): string {
  return out.toString('latin1').replace(/https:\/\/www\.shop\.example\/unsubscribe\?u=[0-9a-f]+/g, '');
}

describe('three copies of one newsletter', () => {
  it('its per-recipient tokens pass a single message’s analysis (nothing else would catch them)', async () => {
    for (const c of NOVEMBER) {
      const r = await filter(eml(c.file), c.to, null);
      for (const t of c.tokens) expect(r.output.toString('latin1')).toContain(t);
    }
  });

  it('the first copy is untouched; from the second on, the varying positions are gone and everything shared stays', async () => {
    const results: RewriteResult[] = [];
    for (const c of NOVEMBER) results.push(await filter(eml(c.file), c.to));

    const first = results[0]!.output.toString('latin1');
    for (const t of NOVEMBER[0]!.tokens) expect(first).toContain(t);

    for (const i of [1, 2]) {
      const r = results[i]!;
      const out = r.output.toString('latin1');
      for (const t of NOVEMBER[i]!.tokens) expect(outsideUnsubscribe(r.output)).not.toContain(t);
      for (const k of KEPT) expect(out).toContain(k);
      // the unsubscribe link keeps its recipient parameter: it must work
      expect(out).toContain(`https://www.shop.example/unsubscribe?${NOVEMBER[i]!.tokens[2]}`);
      // the link with a varying path is neutralised (text kept), the sale link only loses u=
      expect(out).toContain('See the picks');
      expect(out).not.toContain('go.shop.example/r/');
      expect(out).toContain('https://www.shop.example/sale?src=nl&amp;utm_campaign=nov26');
      expect(out).not.toContain('media.shop.example');
      const campaign = r.findings.filter((f) => f.ruleId === 'campaign.varying-position');
      expect(campaign.map((f) => `${f.part} ${f.action} ${f.url}`).sort()).toEqual(
        [
          `1 strip-params https://www.shop.example/sale?src=nl&u=${NOVEMBER[i]!.tokens[2]!.slice(2)}&utm_campaign=nov26`,
          `1 neutralise-link https://go.shop.example/r/${NOVEMBER[i]!.tokens[0]}/1`,
          `2 remove-element https://media.shop.example/i/${NOVEMBER[i]!.tokens[1]}.png`,
          `2 strip-params https://www.shop.example/sale?src=nl&u=${NOVEMBER[i]!.tokens[2]!.slice(2)}&utm_campaign=nov26`,
          `2 neutralise-link https://go.shop.example/r/${NOVEMBER[i]!.tokens[0]}/1`,
        ].sort(),
      );
      expect(campaign.every((f) => /^value differs across \d+ copies of this campaign/.test(f.note ?? ''))).toBe(true);
    }
    expect(results[2]!.findings.find((f) => f.ruleId === 'campaign.varying-position')?.note).toMatch(/^value differs across 3 copies/);
  });

  it('learned templates are reported once each, as host and path shape without values', async () => {
    for (const c of NOVEMBER) await filter(eml(c.file), c.to);
    const shown = learned.map((t) => `${t.host}${t.pathShape} [${t.positions.join(', ')}] after ${t.copies}`).sort();
    expect(shown).toEqual([
      'go.shop.example/r/{v}/* [path 2] after 2',
      'media.shop.example/i/{v} [path 2] after 2',
      'www.shop.example/sale?src=*&u={v}&utm_campaign=* [query u] after 2',
      // learned like any other (it does vary), and still kept: protection comes first
      'www.shop.example/unsubscribe?u={v} [query u] after 2',
    ]);
    const text = JSON.stringify(learned);
    for (const c of NOVEMBER) for (const t of c.tokens) expect(text).not.toContain(t.replace('u=', ''));
  });

  it('the same copy filtered again (another consent class, a retry) is not a new recipient', async () => {
    await filter(eml(NOVEMBER[0]!.file), NOVEMBER[0]!.to);
    const again = await filter(eml(NOVEMBER[0]!.file), NOVEMBER[0]!.to);
    expect(again.findings.filter((f) => f.ruleId === 'campaign.varying-position')).toEqual([]);
    expect(again.changed).toBe(false);
  });

  it('a different newsletter of the same sender, through the same redirector, is not merged', async () => {
    await filter(eml(NOVEMBER[0]!.file), NOVEMBER[0]!.to);
    const other = await filter(eml('recipes-alice.eml'), 'alice@example.org');
    expect(other.findings.filter((f) => f.ruleId === 'campaign.varying-position')).toEqual([]);
    expect(other.output.toString('latin1')).toContain('https://go.shop.example/r/Zz9yQ/1');
    expect(await store.size()).toBe(2);
    // and the first newsletter's second copy still learns from the first copy only
    const second = await filter(eml(NOVEMBER[1]!.file), NOVEMBER[1]!.to);
    expect(second.findings.some((f) => f.ruleId === 'campaign.varying-position')).toBe(true);
  });

  it('copies further apart than the window are not merged', async () => {
    const small = new SqliteCampaignStore(null, { limits: { windowMs: 60_000 } });
    try {
      await filter(eml(NOVEMBER[0]!.file), NOVEMBER[0]!.to, small, new Date('2026-11-29T10:00:00Z'));
      const late = await filter(eml(NOVEMBER[1]!.file), NOVEMBER[1]!.to, small, new Date('2026-11-29T10:01:01Z'));
      expect(late.changed).toBe(false);
      const soon = await filter(eml(NOVEMBER[2]!.file), NOVEMBER[2]!.to, small, new Date('2026-11-29T10:01:30Z'));
      expect(soon.findings.some((f) => f.ruleId === 'campaign.varying-position')).toBe(true);
    } finally {
      await small.close();
    }
  });
});

describe('campaign store', () => {
  it('campaigns.db is readable by its owner only', () => {
    expect(statSync(join(tmp.path, 'campaigns.db')).mode & 0o777).toBe(0o600);
  });

  it('keeps at most maxCampaigns, forgetting the least recently seen', async () => {
    const s = new SqliteCampaignStore(null, { limits: { maxCampaigns: 3 } });
    try {
      const copy = (c: string, v: string) => ({ campaign: c, slots: [{ template: 'h/*', occurrence: 0, values: new Map([['path 1', v]]) }] });
      const t0 = Date.parse('2026-11-29T10:00:00Z');
      for (let i = 0; i < 5; i++) await s.observe(copy(`c${i}`, 'a'), new Date(t0 + i * 1000));
      expect(await s.size(new Date(t0 + 5000))).toBe(3);
      // c0 was forgotten: its second copy is a first copy again; c4 is remembered
      expect((await s.observe(copy('c0', 'b'), new Date(t0 + 6000))).copies).toBe(1);
      const c4 = await s.observe(copy('c4', 'b'), new Date(t0 + 7000));
      expect(c4.copies).toBe(2);
      expect(c4.varying.get('h/*#0')).toEqual([{ position: 'path 1', distinct: 2 }]);
    } finally {
      await s.close();
    }
  });

  it('keeps at most maxUrlsPerCampaign URLs of a campaign', async () => {
    const s = new SqliteCampaignStore(null, { limits: { maxUrlsPerCampaign: 2 } });
    try {
      const copy = (v: string) => ({ campaign: 'c', slots: [0, 1, 2, 3].map((i) => ({ template: 'h/*', occurrence: i, values: new Map([['path 1', `${v}${i}`]]) })) });
      await s.observe(copy('a'));
      const state = await s.observe(copy('b'));
      expect([...state.varying.keys()].sort()).toEqual(['h/*#0', 'h/*#1']);
    } finally {
      await s.close();
    }
  });

  it('values repeated across copies (A/B variants) are not per-recipient', async () => {
    const s = new SqliteCampaignStore(null);
    try {
      const copy = (variant: string, id: string) => ({
        campaign: 'c',
        slots: [
          {
            template: 'h?id&v',
            occurrence: 0,
            values: new Map([
              ['query v', variant],
              ['query id', id],
            ]),
          },
        ],
      });
      await s.observe(copy('a', '1'));
      await s.observe(copy('b', '2'));
      await s.observe(copy('a', '3'));
      const state = await s.observe(copy('b', '4'));
      expect(state.varying.get('h?id&v#0')).toEqual([{ position: 'query id', distinct: 4 }]);
    } finally {
      await s.close();
    }
  });
});

describe('campaign key and URL shape', () => {
  const headers = (subject: string, to = '') => ({ get: (n: string) => (n === 'subject' ? [subject] : n === 'to' && to ? [to] : []) });

  it.each([
    ['Alice, your November picks', 'alice@example.org', '*, your november picks'],
    ['Your November picks, Bob!', 'bob@example.org', 'your november picks, *!'],
    ['Carol: 3 offers for carol.king', 'carol.king@example.org', '*: 0 offers for *.*'],
    ['=?UTF-8?B?QWxpY2UsIHlvdXIgTm92ZW1iZXIgcGlja3M=?=', 'alice@example.org', '*, your november picks'],
  ])('subject %j to %s -> %j', (subject, to, expected) => {
    expect(subjectSkeleton(headers(subject), [to])).toBe(expected);
  });

  it('replies and forwards are person-to-person mail: no campaign key', () => {
    expect(subjectSkeleton(headers('Re: November picks'), [])).toBeNull();
    expect(subjectSkeleton(headers('AW: Angebot'), [])).toBeNull();
  });

  it('the To display name is the recipient’s name too', () => {
    expect(subjectSkeleton(headers('Picks for Liddell', 'Alice Liddell <a1@example.org>'), ['a1@example.org'])).toBe('picks for *');
  });

  it('template: host, path segment count, sorted parameter names; no values', () => {
    const s = urlShape('https://Go.Example.com/r/abc/1?t=x&a=1&t=y#frag')!;
    expect(s.template).toBe('go.example.com/*/*/*?a&t');
    expect([...s.values]).toEqual([
      ['path 1', 'r'],
      ['path 2', 'abc'],
      ['path 3', '1'],
      ['query t', 'x'],
      ['query a', '1'],
      ['query t[2]', 'y'],
    ]);
    expect(withoutParams('https://x.example/p?t=x&a=1&t=y#frag', new Set(['query t[2]']))).toEqual({ url: 'https://x.example/p?t=x&a=1#frag', removed: ['t'] });
  });
});
