/**
 * The relay side of the HTTP features, over real SMTP and real HTTP: the opt-in placeholder
 * becomes each recipient's own link (and only then is the message split per recipient); a
 * recipient whose consent keeps trackers gets a notice naming the vendors with a one-click
 * withdrawal link, others do not; with consent.gate the kept trackers go through the gate, which
 * follows them while consent holds and blanks or unwraps them once it is withdrawn; with
 * links.opaque: ask an opaque tracked link asks the reader first.
 */
import { describe, expect, it } from 'vitest';

import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene, type Scene } from '../helpers/scene.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import { TRANSPARENT_GIF } from '../../src/web/server.js';
import { DEFAULT_WORDING } from '../../src/web/wording.js';

let s: Scene;
const toClose: Array<() => Promise<void> | void> = [];
useRelayScene((x) => (s = x), toClose);

const PIXEL = 'https://example.us1.list-manage.com/track/open.php?u=1a2b3c&id=4d5e6f&e=7a8b9c';
const OPAQUE = 'https://example.us1.list-manage.com/track/click?u=1a2b3c&id=4d5e6f&e=7a8b9c';
const DECODABLE =
  'https://a1b2c3d4.r.us-east-1.awstrack.me/L0/https:%2F%2Fwww.example.com%2Faccount%2Fbilling/1/0100018f3a8b7c2d-5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9-000000/Vt3yJ0sDKp9mQe1bXh2aLr4N5oA=367';

function message(html: string, text: string): string {
  return [
    'From: Sales <sales@example.com>',
    'To: list@example.org',
    'Subject: web links',
    'Message-ID: <web-links@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    text,
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<html><body>${html}</body></html>`,
    '--b1--',
    '',
  ].join('\r\n');
}

const TRACKED = message(`<p>Hello<img src="${PIXEL}" width="1" height="1"></p><p><a href="${OPAQUE}">offer</a> and <a href="${DECODABLE}">billing</a></p>`, 'Hello, see our offer.');

async function start(extra: Record<string, unknown> = {}) {
  const relay = await startTestRelay(relayConfig(s.tmp.path, s.up.port, { http: { listen: '127.0.0.1:0' }, ...extra }));
  toClose.push(() => relay.close());
  return relay;
}

function copyFor(address: string): string {
  const r = s.up.received.filter((m) => m.to.includes(address));
  expect(r, address).toHaveLength(1);
  return r[0]!.raw.toString('utf8');
}

function linksIn(text: string, base: string, path: '/c/' | '/g/'): string[] {
  const re = new RegExp(`${base.replace(/[.]/g, '\\.')}${path}v1\\.[0-9a-z]+-[0-9a-f]{6}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}`, 'g');
  return text.match(re) ?? [];
}

function post(url: string, form: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(form).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
}

async function consentOf(address: string) {
  const store = new SqliteConsentStore(s.tmp.path);
  try {
    return (await store.show(address)).consent;
  } finally {
    await store.close();
  }
}

describe('opt-in placeholder', () => {
  it("is replaced by each recipient's own link, one copy each; without it the class shares one copy", async () => {
    const relay = await start();
    const base = relay.web!.publicUrl;
    const invite = message('<p>Would you let us measure? <a href="{{consent-relay:opt-in}}">Yes, you may</a></p>', 'Agree here: {{consent-relay:opt-in}}');
    expect((await send(relay.port, 'sales@example.com', ['ann@example.org', 'ben@example.org'], invite)).code).toBe(250);
    expect(s.up.received).toHaveLength(2);
    const ann = copyFor('ann@example.org');
    const ben = copyFor('ben@example.org');
    expect(s.up.received.every((m) => m.to.length === 1)).toBe(true);
    for (const c of [ann, ben]) expect(c).not.toContain('{{consent-relay:opt-in}}');
    const annLinks = linksIn(ann, base, '/c/');
    const benLinks = linksIn(ben, base, '/c/');
    expect(annLinks).toHaveLength(2); // html and text
    expect(benLinks).toHaveLength(2);
    expect(annLinks[0]).not.toBe(benLinks[0]);
    expect(ann).toContain(`<a href="${annLinks[0]}">Yes, you may</a>`);
    // ann's link grants ann, not ben
    expect((await post(annLinks[1]!, { wording: DEFAULT_WORDING.version })).status).toBe(200);
    expect(await consentOf('ann@example.org')).toEqual({ opens: true, clicks: true });
    expect(await consentOf('ben@example.org')).toEqual({ opens: false, clicks: false });

    // no placeholder: one transaction for both
    expect((await send(relay.port, 'sales@example.com', ['cat@example.org', 'dan@example.org'], message('<p>plain news</p>', 'plain news'))).code).toBe(250);
    expect(s.up.received).toHaveLength(3);
    expect([...s.up.received[2]!.to].sort()).toEqual(['cat@example.org', 'dan@example.org']);
  });
});

describe('disclosure', () => {
  it('a consenting recipient gets a notice naming the vendors and a one-click withdrawal; others get none', async () => {
    const relay = await start();
    const base = relay.web!.publicUrl;
    await grant(s.tmp.path, 'alice@example.org', ['opens', 'clicks']);
    await grant(s.tmp.path, 'carol@example.org', ['opens', 'clicks']);
    expect((await send(relay.port, 'sales@example.com', ['alice@example.org', 'bob@example.org', 'carol@example.org'], TRACKED)).code).toBe(250);
    const alice = copyFor('alice@example.org');
    const bob = copyFor('bob@example.org');
    // consenting: trackers kept, the notice in both parts, with alice's own withdrawal link
    expect(alice).toContain(PIXEL.replace(/&/g, '&'));
    expect(alice).toMatch(/This email contains tracking by Amazon SES, Mailchimp, because you agreed to it\./);
    const out = linksIn(alice, base, '/c/');
    expect(out).toHaveLength(2);
    expect(new Set(out).size).toBe(1);
    expect(alice).toContain(`<a href="${out[0]}">Stop tracking</a></div>\r\n</body>`);
    expect(linksIn(copyFor('carol@example.org'), base, '/c/')[0]).not.toBe(out[0]);
    // not consenting: trackers gone, no notice, no links
    expect(bob).not.toContain('list-manage.com/track/open');
    expect(bob).not.toContain('This email contains tracking');
    expect(linksIn(bob, base, '/c/')).toHaveLength(0);
    // the non-consenting recipient's copy is the class copy, not split
    expect(s.up.received.find((m) => m.to.includes('bob@example.org'))!.to).toEqual(['bob@example.org']);

    // one click (RFC 8058) withdraws, as easily as it was given
    expect((await post(out[0]!, { 'List-Unsubscribe': 'One-Click' })).status).toBe(200);
    expect(await consentOf('alice@example.org')).toEqual({ opens: false, clicks: false });
    expect(await consentOf('carol@example.org')).toEqual({ opens: true, clicks: true });
  });

  it('consent.disclose: false adds no notice', async () => {
    const relay = await start({ consent: { disclose: false } });
    await grant(s.tmp.path, 'alice@example.org', ['opens', 'clicks']);
    expect((await send(relay.port, 'sales@example.com', ['alice@example.org'], TRACKED)).code).toBe(250);
    const alice = copyFor('alice@example.org');
    expect(alice).not.toContain('This email contains tracking');
    expect(linksIn(alice, relay.web!.publicUrl, '/c/')).toHaveLength(0);
  });
});

describe('the gate', () => {
  it('follows kept trackers while consent holds; after withdrawal blanks the pixel and unwraps or explains the links', async () => {
    const relay = await start({ consent: { gate: true, disclose: true } });
    const base = relay.web!.publicUrl;
    await grant(s.tmp.path, 'alice@example.org', ['opens', 'clicks']);
    expect((await send(relay.port, 'sales@example.com', ['alice@example.org'], TRACKED)).code).toBe(250);
    const alice = copyFor('alice@example.org');
    expect(alice).not.toContain('list-manage.com');
    expect(alice).not.toContain('awstrack.me');
    const gates = linksIn(alice, base, '/g/');
    expect(gates).toHaveLength(3);
    const [pixel, opaque, decodable] = gates as [string, string, string];
    expect(alice).toContain(`<img src="${pixel}"`);

    // consent holds: each goes to the tracker as the sender wrote it
    for (const [g, original] of [
      [pixel, PIXEL],
      [opaque, OPAQUE],
      [decodable, DECODABLE],
    ] as const) {
      const r = await fetch(g, { redirect: 'manual' });
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe(original);
    }

    // withdrawn (through the notice's link): no request reaches the tracker any more
    const out = linksIn(alice, base, '/c/')[0]!;
    expect((await post(out, { wording: DEFAULT_WORDING.version, confirm: 'yes' })).status).toBe(200);
    const p = await fetch(pixel, { redirect: 'manual' });
    expect(p.status).toBe(200);
    expect(p.headers.get('content-type')).toBe('image/gif');
    expect(Buffer.from(await p.arrayBuffer())).toEqual(TRANSPARENT_GIF);
    const d = await fetch(decodable, { redirect: 'manual' });
    expect(d.status).toBe(302);
    expect(d.headers.get('location')).toBe('https://www.example.com/account/billing');
    const o = await fetch(opaque, { redirect: 'manual' });
    expect(o.status).toBe(200);
    const page = await o.text();
    expect(page).toContain('Link no longer tracked');
    expect(page).toContain('Mailchimp');

    // the gate counts, it records nothing about the person
    expect(relay.metrics.value('consent_relay_gate_requests_total', { result: 'followed', kind: 'pixel' })).toBe(1);
    expect(relay.metrics.value('consent_relay_gate_requests_total', { result: 'blank', kind: 'pixel' })).toBe(1);
    expect(relay.metrics.value('consent_relay_gate_requests_total', { result: 'unwrapped', kind: 'link' })).toBe(1);
    expect(relay.metrics.value('consent_relay_gate_requests_total', { result: 'explained', kind: 'link' })).toBe(1);
    const store = new SqliteConsentStore(s.tmp.path);
    try {
      expect((await store.show('alice@example.org')).history).toHaveLength(2); // the grant and the withdrawal, nothing from the gate
    } finally {
      await store.close();
    }
  });

  it('a tampered gate token is refused', async () => {
    const relay = await start({ consent: { gate: true } });
    await grant(s.tmp.path, 'alice@example.org', ['opens', 'clicks']);
    expect((await send(relay.port, 'sales@example.com', ['alice@example.org'], TRACKED)).code).toBe(250);
    const g = linksIn(copyFor('alice@example.org'), relay.web!.publicUrl, '/g/')[1]!;
    const [v, kid, payload, mac] = g.slice(relay.web!.publicUrl.length + 3).split('.') as [string, string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const evil = Buffer.from(JSON.stringify({ ...claims, u: 'https://evil.example/' })).toString('base64url');
    const r = await fetch(`${relay.web!.publicUrl}/g/${v}.${kid}.${evil}.${mac}`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(r.headers.get('location')).toBeNull();
  });
});

describe('links.opaque: ask', () => {
  it('an opaque tracked link asks first: continue follows it after a POST, cancel does not', async () => {
    const relay = await start({ links: { opaque: 'ask' } });
    expect((await send(relay.port, 'sales@example.com', ['bob@example.org', 'eve@example.org'], TRACKED)).code).toBe(250);
    // it names no one: both recipients share one copy
    expect(s.up.received).toHaveLength(1);
    const copy = s.up.received[0]!.raw.toString('utf8');
    expect(copy).not.toContain('list-manage.com');
    expect(copy).toContain('href="https://www.example.com/account/billing"'); // decodable: unwrapped as before
    const asks = linksIn(copy, relay.web!.publicUrl, '/g/');
    expect(asks).toHaveLength(1);
    const page = await (await fetch(asks[0]!)).text();
    expect(page).toContain('goes through Mailchimp, a tracking service');
    expect(page).toContain('Continue — Mailchimp will record this click');
    expect(page).toContain('<form method="post">');
    const go = await post(asks[0]!, { wording: DEFAULT_WORDING.version, choice: 'continue' });
    expect(go.status).toBe(303);
    expect(go.headers.get('location')).toBe(OPAQUE);
    const no = await post(asks[0]!, { wording: DEFAULT_WORDING.version, choice: 'cancel' });
    expect(no.status).toBe(200);
    expect(no.headers.get('location')).toBeNull();
    expect(await no.text()).toContain('Nothing was recorded');
  });
});
