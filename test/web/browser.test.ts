/**
 * A real browser (Debian's chromium, driven by playwright-core; .ci/install-chromium.sh installs
 * it) opens an opt-out link from a message, confirms, and sees the confirmation page; consent is
 * then withdrawn in the store. The pages have no script, so this is what any recipient sees.
 *
 * CONSENT_RELAY_SCREENSHOTS=1 also writes a screenshot of each page to docs/ (the README shows them).
 */
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';

import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene, type Scene } from '../helpers/scene.js';

let s: Scene;
const toClose: Array<() => Promise<void> | void> = [];
useRelayScene((x) => (s = x), toClose);

const DOCS = join(import.meta.dirname, '..', '..', 'docs');
const SHOTS = process.env.CONSENT_RELAY_SCREENSHOTS === '1';
const PIXEL = 'https://example.us1.list-manage.com/track/open.php?u=1a2b3c&id=4d5e6f&e=7a8b9c';
const OPAQUE = 'https://example.us1.list-manage.com/track/click?u=1a2b3c&id=4d5e6f&e=7a8b9c';

async function launch(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  toClose.push(() => browser.close());
  return browser;
}

describe('consent pages in a browser', () => {
  it('opens the opt-out link from a delivered message, confirms, and sees the confirmation', async () => {
    const relay = await startTestRelay(relayConfig(s.tmp.path, s.up.port, { http: { listen: '127.0.0.1:0' }, consent: { gate: true }, links: { opaque: 'ask' } }));
    toClose.push(() => relay.close());
    await grant(s.tmp.path, 'alice@example.org', ['opens', 'clicks']);
    const html = `<p>Hello<img src="${PIXEL}" width="1" height="1"></p><p><a href="${OPAQUE}">offer</a></p>`;
    const msg = `From: s@example.com\r\nTo: alice@example.org\r\nSubject: b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>${html}</body></html>\r\n`;
    expect((await send(relay.port, 's@example.com', ['alice@example.org', 'bob@example.org'], msg)).code).toBe(250);
    const alice = s.up.received.find((m) => m.to.includes('alice@example.org'))!.raw.toString('utf8');
    const optOut = /href="(http:\/\/127\.0\.0\.1:\d+\/c\/[^"]+)">Stop tracking</.exec(alice)?.[1];
    expect(optOut).toBeDefined();

    const browser = await launch();
    const page = await browser.newPage({ viewport: { width: 720, height: 560 } });
    const shot = async (name: string): Promise<void> => {
      if (SHOTS) await page.screenshot({ path: join(DOCS, `web-${name}.png`) });
    };

    const r = await page.goto(optOut!);
    expect(r?.status()).toBe(200);
    expect(await page.title()).toBe('Stop email tracking');
    await expect(page.locator('h1').textContent()).resolves.toBe('Stop email tracking');
    await shot('opt-out');
    // showing the page (a GET) changed nothing
    const store = new SqliteConsentStore(s.tmp.path);
    toClose.push(() => store.close());
    expect((await store.show('alice@example.org')).consent).toEqual({ opens: true, clicks: true });

    await page.getByRole('button', { name: 'Stop tracking' }).click();
    await page.waitForLoadState();
    await expect(page.locator('main p').textContent()).resolves.toContain('Done. We no longer record when you open our emails and which links in our emails you click.');
    await shot('opt-out-done');
    const after = await store.show('alice@example.org');
    expect(after.consent).toEqual({ opens: false, clicks: false });
    expect(after.history.at(-1)).toMatchObject({ action: 'withdraw', method: 'link' });
    expect(after.history.at(-1)!.evidence).toMatch(/^client hmac-sha256:[0-9a-f]{64}$/);
    expect(after.history.at(-1)).toMatchObject({ wordingVersion: 'en-1', wordingSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });

    // the other pages, as recipients meet them
    const gate = /href="(http:\/\/127\.0\.0\.1:\d+\/g\/[^"]+)">offer</.exec(alice)![1]!;
    await page.goto(gate);
    await expect(page.locator('h1').textContent()).resolves.toBe('Link no longer tracked');
    await shot('gate-withdrawn');
    const bob = s.up.received.find((m) => m.to.includes('bob@example.org'))!.raw.toString('utf8');
    const ask = /href="(http:\/\/127\.0\.0\.1:\d+\/g\/[^"]+)">offer</.exec(bob)![1]!;
    await page.goto(ask);
    await expect(page.getByRole('button', { name: 'Continue — Mailchimp will record this click' }).count()).resolves.toBe(1);
    await shot('ask');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForLoadState();
    await expect(page.locator('main p').textContent()).resolves.toContain('Nothing was recorded');
    await page.goto(relay.web!.links.optIn('carol@example.org'));
    await expect(page.getByRole('button', { name: 'I agree' }).count()).resolves.toBe(1);
    await shot('opt-in');
    await page.goto(`${relay.web!.publicUrl}/c/v1.nope.nope.nope`);
    await expect(page.locator('h1').textContent()).resolves.toBe('This link does not work');
    await shot('invalid');
  }, 60_000);
});
