/**
 * `audit report` against a known set of messages relayed over SMTP: the figures by vendor, by
 * sender, the top tools, consent coverage and the rule-set version are counted by hand below and
 * checked in the table, CSV and JSON outputs. The HTML report is then opened in Debian's Chromium
 * (installed by .ci/install-interop.sh): it loads with no network request at all and shows the
 * figures. With AUDIT_REPORT_SCREENSHOT=FILE the page is also saved as a PNG (docs/audit-report.png).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cli } from '../cli/run.js';
import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { startUpstream, type RecordingUpstream } from '../helpers/upstream.js';

const MC = (n: string): string => `<img src="https://corp.us1.list-manage.com/track/open.php?u=abc123&id=def456&e=${n}" width="1" height="1">`;
const HS = '<img src="https://t.hubspotemail.net/e2t/to/ABCDEF123456" width="1" height="1">';
const SG = '<img src="https://u123.ct.sendgrid.net/wf/open?upn=XYZ987abc" width="1" height="1">';

function message(from: string, id: string, tool: string | null, body: string): string {
  return [
    `From: <${from}>`,
    'To: <list@example.com>',
    `Subject: ${id}`,
    `Message-ID: <${id}@corp.example>`,
    ...(tool ? [tool] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<html><body><p>Hello</p>${body}<p>Bye</p></body></html>`,
    '',
  ].join('\r\n');
}

// The known set. carol has consent (opens, clicks): her copy is the original, with no findings.
//   1 sales@ (HubSpot Sales 7.2)            → alice, bob  (none)        MC + HS     2 removals
//   2 sales@ (HubSpot Sales 7.2)            → carol (full), alice       MC          1 removal (alice's copy)
//   3 news@  (Mozilla Thunderbird 128.3)    → dave (none)               SG + MC     2 removals
//   4 hr@    (no tool named)                → erin (none)               nothing
// messages 4, with trackers 3, trackers 5, removals 5; recipients 6, with consent 1 (16.7%)
// by vendor: Mailchimp 3 messages / 3, SendGrid 1 / 1, HubSpot 1 / 1
// senders: sales@ 3 trackers, news@ 2; tools: HubSpot Sales 7.2 3, Thunderbird 2
const SET: [string, string[], string][] = [
  ['sales@corp.example', ['alice@example.com', 'bob@example.com'], message('sales@corp.example', 'm1', 'X-Mailer: HubSpot Sales 7.2', MC('a1') + HS)],
  ['sales@corp.example', ['carol@example.com', 'alice@example.com'], message('sales@corp.example', 'm2', 'X-Mailer: HubSpot Sales 7.2', MC('a2'))],
  ['news@corp.example', ['dave@example.com'], message('news@corp.example', 'm3', 'User-Agent: Mozilla Thunderbird 128.3', SG + MC('a3'))],
  ['hr@corp.example', ['erin@example.com'], message('hr@corp.example', 'm4', null, '<a href="https://www.example.org/handbook">handbook</a>')],
];

let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
let up: RecordingUpstream;

beforeAll(async () => {
  tmp = await makeTempDir();
  data = tmp.path;
  up = await startUpstream();
  await grant(data, 'carol@example.com', ['opens', 'clicks']);
  const relay = await startTestRelay(relayConfig(data, up.port));
  try {
    for (const [from, to, raw] of SET) expect((await send(relay.port, from, to, raw)).code).toBe(250);
  } finally {
    await relay.close();
  }
}, 60_000);
afterAll(async () => {
  await up.close();
  await tmp.cleanup();
});

interface Summary {
  messages: number;
  messagesWithTrackers: number;
  trackers: number;
  removals: number;
  kept: number;
  recipients: { total: number; withConsent: number; opens: number; clicks: number; share: number };
  groups: { key: string; messages: number; trackers: number; removals: number; kept: number }[];
  topSenders: { key: string; messages: number; trackers: number; removals: number }[];
  topMailers: { key: string; messages: number; trackers: number; removals: number }[];
  rulesVersions: { version: string; messages: number; starts: number }[];
  chain: { ok: boolean; events: number };
}

describe('consent-relay audit report', () => {
  it('json: the figures of the known set, by vendor', () => {
    const r = cli(['audit', 'report', '-d', data, '--by', 'vendor', '--format', 'json']);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.out) as Summary;
    expect(s).toMatchObject({ messages: 4, messagesWithTrackers: 3, trackers: 5, removals: 5, kept: 0 });
    expect(s.recipients).toEqual({ total: 6, withConsent: 1, opens: 1, clicks: 1, share: 1 / 6 });
    expect(s.groups).toEqual([
      { key: 'Mailchimp', messages: 3, trackers: 3, removals: 3, kept: 0 },
      { key: 'HubSpot', messages: 1, trackers: 1, removals: 1, kept: 0 },
      { key: 'SendGrid', messages: 1, trackers: 1, removals: 1, kept: 0 },
    ]);
    expect(s.topSenders.map((t) => [t.key, t.messages, t.trackers, t.removals])).toEqual([
      ['sales@corp.example', 2, 3, 3],
      ['news@corp.example', 1, 2, 2],
    ]);
    expect(s.topMailers.map((t) => [t.key, t.trackers])).toEqual([
      ['HubSpot Sales 7.2', 3],
      ['Mozilla Thunderbird 128.3', 2],
    ]);
    expect(s.rulesVersions).toEqual([expect.objectContaining({ messages: 4, starts: 1 })]);
    // relay-started + (per message: findings, relayed)
    expect(s.chain.ok).toBe(true);
  });

  it('csv by sender and table by technique', () => {
    const csv = cli(['audit', 'report', '-d', data, '--by', 'sender', '--format', 'csv']);
    expect(csv.status).toBe(0);
    expect(csv.out).toBe(['by,key,messages,trackers,removals,kept', 'sender,sales@corp.example,2,3,3,0', 'sender,news@corp.example,1,2,2,0', ''].join('\r\n'));
    const table = cli(['audit', 'report', '-d', data, '--by', 'technique']);
    expect(table.status).toBe(0);
    expect(table.out).toContain('messages 4 (3 with trackers); trackers found 5; removed 5 occurrence(s), kept 0');
    expect(table.out).toContain('recipients 6; with consent 1 (16.7%): opens 1, clicks 1');
    expect(table.out).toMatch(/^img +3 +5 +5 +0$/m);
    expect(table.out).toMatch(/^HubSpot Sales 7\.2 +2 +3 +3$/m);
  });

  it('--since after the messages: nothing; a bad --by is a usage error', () => {
    const later = cli(['audit', 'report', '-d', data, '--since', '2099-01-01', '--format', 'json']);
    expect(JSON.parse(later.out)).toMatchObject({ messages: 0, removals: 0, groups: [] });
    const bad = cli(['audit', 'report', '-d', data, '--by', 'colour']);
    expect(bad.status).toBe(64);
    expect(bad.err).toContain('--by must be one of sender, vendor, technique, day');
  });

  it('html: opened in Chromium, it makes no network request and shows the figures', async () => {
    const r = cli(['audit', 'report', '-d', data, '--format', 'html']);
    expect(r.status).toBe(0);
    expect(r.out).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const page = join(tmp.path, 'report.html');
    writeFileSync(page, r.out);
    const profile = mkdtempSync(join(tmpdir(), 'consent-relay-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1000, height: 900 },
    });
    try {
      const tab = await context.newPage();
      const requests: string[] = [];
      tab.on('request', (q) => requests.push(q.url()));
      const url = pathToFileURL(page).href;
      await tab.goto(url, { waitUntil: 'load' });
      expect(requests).toEqual([url]);
      expect(await tab.textContent('#fig-removals')).toBe('5');
      expect(await tab.textContent('#fig-trackers')).toBe('5');
      expect(await tab.textContent('#fig-consent')).toBe('16.7%');
      expect(await tab.textContent('#chain-status')).toMatch(/^Verified: \d+ event\(s\)/);
      expect(await tab.textContent('#legend')).toContain('Mailchimp (3)');
      expect(await tab.locator('#chart rect').count()).toBe(3);
      expect(await tab.textContent('#top-senders')).toContain('sales@corp.example');
      expect(await tab.textContent('#top-tools')).toContain('HubSpot Sales 7.2');
      expect(await tab.textContent('#rules')).toMatch(/\d{4}\.\d{2}\.\d{2}/);
      const box = await tab.locator('#chart').boundingBox();
      expect(box?.width).toBeGreaterThan(500);
      const shot = process.env.AUDIT_REPORT_SCREENSHOT;
      if (shot) await tab.screenshot({ path: resolve(shot), fullPage: true });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);
});
