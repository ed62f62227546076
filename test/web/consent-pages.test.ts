/**
 * The consent pages over real HTTP, on the relay's own listener: a GET shows a page and records
 * nothing (mail scanners follow links); a POST records the change with method `link`, the
 * wording shown and a keyed hash of the client as evidence; tokens that were tampered with,
 * expired, or signed by another key are refused and record nothing.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import type { ConsentState } from '../../src/consent/store.js';
import { KeyRing, KEY_DIR } from '../../src/web/keys.js';
import { LinkSubjects } from '../../src/web/subjects.js';
import { signToken } from '../../src/web/token.js';
import { DEFAULT_WORDING } from '../../src/web/wording.js';
import { cli } from '../cli/run.js';
import { relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene, type Scene } from '../helpers/scene.js';

let s: Scene;
const toClose: Array<() => Promise<void> | void> = [];
useRelayScene((x) => (s = x), toClose);

const ALICE = 'alice@example.org';
const DAY = 86_400_000;

async function start(extra: Record<string, unknown> = {}) {
  const relay = await startTestRelay(relayConfig(s.tmp.path, s.up.port, { http: { listen: '127.0.0.1:0' }, ...extra }));
  toClose.push(() => relay.close());
  return relay;
}

async function history(address = ALICE): Promise<ConsentState> {
  const store = new SqliteConsentStore(s.tmp.path);
  try {
    return await store.show(address);
  } finally {
    await store.close();
  }
}

function post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(form).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, redirect: 'manual' });
}

describe('consent pages', () => {
  it('an opt-in link: GET shows the page and records nothing; POST records the grant with its evidence', async () => {
    const relay = await start();
    const url = relay.web!.links.optIn(ALICE, ['opens', 'clicks']);
    expect(url.startsWith(`http://127.0.0.1:${relay.web!.address.port}/c/v1.`)).toBe(true);
    expect(url).not.toContain('alice');

    // a scanner's GET, a HEAD and a second GET change nothing
    for (const method of ['GET', 'GET', 'HEAD']) {
      const r = await fetch(url, { method, headers: { 'user-agent': 'MailScanner/1.0' } });
      expect(r.status).toBe(200);
    }
    const page = await (await fetch(url)).text();
    expect(page).toContain('<html lang="en">');
    expect(page).toContain('<h1>Allow email tracking</h1>');
    expect(page).toContain('when you open our emails and which links in our emails you click');
    expect(page).toContain('<form method="post">');
    expect(page).not.toContain('<script');
    expect((await history()).history).toHaveLength(0);

    const r = await post(url, { wording: DEFAULT_WORDING.version, confirm: 'yes' }, { 'user-agent': 'Firefox/140' });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('Your consent has been recorded');
    const h = await history();
    expect(h.consent).toEqual({ opens: true, clicks: true });
    expect(h.history).toHaveLength(1);
    const e = h.history[0]!;
    expect(e).toMatchObject({ action: 'grant', method: 'link', scopes: ['opens', 'clicks'], source: 'opt-in link', recordedBy: 'consent-relay web' });
    // the wording shown: its version and the SHA-256 of exactly the lines on the page
    const w = DEFAULT_WORDING['opt-in'];
    const text = [w.title, w.body.replace('{scopes}', 'when you open our emails and which links in our emails you click'), w.button].join('\n');
    const sha = createHash('sha256').update(text).digest('hex');
    expect(e.wordingVersion).toBe(DEFAULT_WORDING.version);
    expect(e.wordingSha256).toBe(sha);
    // the client as a keyed hash of IP and user agent, never in clear
    const subjects = new LinkSubjects(s.tmp.path);
    try {
      expect(e.evidence).toBe(`client hmac-sha256:${subjects.evidenceHash('127.0.0.1\nFirefox/140')}`);
    } finally {
      subjects.close();
    }
    expect(e.evidence).not.toContain('127.0.0.1');
    expect(e.evidence).not.toContain('Firefox');
    expect(relay.metrics.value('consent_relay_consent_changes_total', { action: 'grant', method: 'link' })).toBe(1);
    // and chained in the audit log, as a change from the command line is
    const audit = new SqliteAuditLog(s.tmp.path);
    try {
      const rows = await audit.list({ type: 'consent-changed' });
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows[0])).toContain('"method":"link"');
      expect(JSON.stringify(rows[0])).toContain(`"wordingSha256":"${sha}"`);
    } finally {
      await audit.close();
    }
  });

  it('an opt-out link withdraws, also as an RFC 8058 one-click POST', async () => {
    const relay = await start();
    const first = await post(relay.web!.links.optIn(ALICE), { wording: DEFAULT_WORDING.version });
    expect(first.status).toBe(200);
    const out = relay.web!.links.optOut(ALICE, ['clicks']);
    expect(await (await fetch(out)).text()).toContain('Stop recording which links in our emails you click');
    expect((await history()).consent).toEqual({ opens: true, clicks: true });
    const r = await post(out, { 'List-Unsubscribe': 'One-Click' });
    expect(r.status).toBe(200);
    const h = await history();
    expect(h.consent).toEqual({ opens: true, clicks: false });
    expect(h.history.at(-1)).toMatchObject({ action: 'withdraw', method: 'link', scopes: ['clicks'] });
  });

  it('a POST whose page showed other wording is shown the page again, and records nothing', async () => {
    const relay = await start();
    const r = await post(relay.web!.links.optIn(ALICE), { wording: 'en-0' });
    expect(r.status).toBe(409);
    expect(await r.text()).toContain('changed since it was shown');
    expect((await history()).history).toHaveLength(0);
  });

  it('tampered, expired and foreign tokens are refused and record nothing', async () => {
    const relay = await start();
    const base = `http://127.0.0.1:${relay.web!.address.port}/c/`;
    const good = relay.web!.links.optIn(ALICE).slice(base.length);
    const [v, kid, payload, mac] = good.split('.') as [string, string, string, string];

    // tampering: widen the scopes in the payload, keep the MAC
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, a: 'opt-out' })).toString('base64url');
    const flipped = mac.slice(0, 10) + (mac[10] === 'A' ? 'B' : 'A') + mac.slice(11);
    // expired: signed with the relay's own key, an hour in the past
    const keys = KeyRing.open(s.tmp.path, { rotateEveryMs: 30 * DAY, retireAfterMs: 400 * DAY });
    const subjects = new LinkSubjects(s.tmp.path);
    toClose.push(() => subjects.close());
    const recipient = subjects.remember(ALICE);
    const expired = signToken(keys, { action: 'opt-in', recipient, scopes: ['opens'], expires: Date.now() - 3_600_000 });
    // another installation's key (unknown kid), and the right kid with other key bytes
    const other = KeyRing.open(join(s.tmp.path, 'other'), { rotateEveryMs: 30 * DAY, retireAfterMs: 400 * DAY });
    const foreign = signToken(other, { action: 'opt-in', recipient, scopes: ['opens'], expires: Date.now() + DAY });
    const otherKid = other.ids()[0]!;
    const sameKid = foreign.replace(`v1.${otherKid}.`, `v1.${kid}.`);

    for (const [name, token, status] of [
      ['payload changed', `${v}.${kid}.${forged}.${mac}`, 404],
      ['mac changed', `${v}.${kid}.${payload}.${flipped}`, 404],
      ['truncated', good.slice(0, -5), 404],
      ['expired', expired, 410],
      ['unknown key', foreign, 404],
      ['wrong key bytes', sameKid, 404],
      ['garbage', 'hello', 404],
    ] as const) {
      const g = await fetch(base + token);
      expect(g.status, name).toBe(status);
      expect(await g.text(), name).not.toContain('<form');
      const p = await post(base + token, { wording: DEFAULT_WORDING.version });
      expect(p.status, name).toBe(status);
    }
    expect((await history()).history).toHaveLength(0);
    expect(relay.metrics.value('consent_relay_web_requests_total', { page: 'consent', method: 'POST', outcome: 'bad-signature' })).toBe(3);
  });

  it("an erased person's links name no one; the gate never redirects to a URL that is not http(s)", async () => {
    const relay = await start();
    const store = new SqliteConsentStore(s.tmp.path);
    toClose.push(() => store.close());
    await store.record({ address: ALICE, action: 'grant', scopes: ['opens', 'clicks'], source: 'test' });
    const keys = KeyRing.open(s.tmp.path, { rotateEveryMs: 30 * DAY, retireAfterMs: 400 * DAY });
    const subjects = new LinkSubjects(s.tmp.path);
    toClose.push(() => subjects.close());
    const recipient = subjects.remember(ALICE);
    const base = relay.web!.publicUrl;
    const evil = signToken(keys, { action: 'gate', recipient, scopes: ['clicks'], expires: Date.now() + DAY, target: { url: 'javascript:alert(1)', kind: 'link', vendor: 'X' } });
    const r = await fetch(`${base}/g/${evil}`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('location')).toBeNull();
    const good = signToken(keys, { action: 'gate', recipient, scopes: ['clicks'], expires: Date.now() + DAY, target: { url: 'https://t.example/c', kind: 'link', vendor: 'X' } });
    expect((await fetch(`${base}/g/${good}`, { redirect: 'manual' })).status).toBe(302);

    const out = relay.web!.links.optOut(ALICE);
    expect(subjects.forget(ALICE)).toBe(1);
    const p = await post(out, { wording: DEFAULT_WORDING.version });
    expect(p.status).toBe(404);
    expect((await history()).history).toHaveLength(1);
    // consent still recorded, but the gate cannot tell whose link it is: it does not follow it
    const g = await fetch(`${base}/g/${good}`, { redirect: 'manual' });
    expect(g.status).toBe(200);
    expect(await g.text()).toContain('Link no longer tracked');
  });

  it('keys rotate; older keys verify until retired; key files are private', async () => {
    const dir = join(s.tmp.path, 'ring');
    let t = Date.parse('2026-01-01T00:00:00Z');
    const policy = { rotateEveryMs: 30 * DAY, retireAfterMs: 90 * DAY };
    const ring = KeyRing.open(dir, policy, () => t);
    const subjects = new LinkSubjects(s.tmp.path);
    toClose.push(() => subjects.close());
    const token = signToken(ring, { action: 'opt-in', recipient: subjects.remember(ALICE), scopes: ['opens'], expires: t + 365 * DAY });
    const kid = token.split('.')[1]!;
    t += 31 * DAY;
    const newer = ring.current();
    expect(newer.kid).not.toBe(kid);
    expect(ring.get(kid)).not.toBeNull();
    t += 60 * DAY; // the first key is now 91 days old
    expect(ring.get(kid)).toBeNull();
    ring.current();
    const files = readdirSync(join(dir, KEY_DIR));
    expect(files).not.toContain(`${kid}.key`);
    expect(statSync(join(dir, KEY_DIR)).mode & 0o777).toBe(0o700);
    for (const f of files) expect(statSync(join(dir, KEY_DIR, f)).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(newer)).not.toMatch(/[0-9a-f]{64}/);
  });

  it('consent invite (another process, same data directory) prints a link the running relay honours', async () => {
    const relay = await start();
    const publicUrl = `http://127.0.0.1:${relay.web!.address.port}`;
    const r = cli(['consent', 'invite', 'Bob@Example.org', '--scope', 'clicks', '--data-dir', s.tmp.path, '--public-url', publicUrl]);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const url = r.out.trim();
    expect(url).toMatch(new RegExp(`^${publicUrl}/c/v1\\.[0-9a-z]+-[0-9a-f]{6}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}$`));
    expect(url.toLowerCase()).not.toContain('bob');
    expect(await (await fetch(url)).text()).toContain('Our emails can record which links in our emails you click.');
    expect((await post(url, { wording: DEFAULT_WORDING.version })).status).toBe(200);
    expect((await history('bob@example.org')).consent).toEqual({ opens: false, clicks: true });
    expect(cli(['consent', 'invite', 'not-an-address', '--data-dir', s.tmp.path, '--public-url', publicUrl]).status).toBe(64);
  });

  it('healthz and metrics', async () => {
    const relay = await start();
    const base = `http://127.0.0.1:${relay.web!.address.port}`;
    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('ok\n');
    const m = await fetch(`${base}/metrics`);
    expect(m.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await m.text();
    expect(text).toMatch(/^# TYPE consent_relay_spool_entries gauge\nconsent_relay_spool_entries 0$/m);
    const msg =
      'From: s@example.com\r\nTo: bob@example.org\r\nSubject: m\r\nContent-Type: text/html\r\n\r\n<p>hi<img src="https://example.us1.list-manage.com/track/open.php?u=1&id=2&e=3" width="1" height="1"></p>\r\n';
    expect((await send(relay.port, 's@example.com', ['bob@example.org'], msg)).code).toBe(250);
    s.up.setBehaviour(() => ({ code: 550, message: '5.1.1 no such user' }));
    expect((await send(relay.port, 's@example.com', ['bob@example.org'], msg)).code).toBe(550);
    const after = await (await fetch(`${base}/metrics`)).text();
    expect(after).toContain('consent_relay_messages_total 2\n');
    expect(after).toContain('consent_relay_copies_total{class="none"} 2\n');
    expect(after).toContain('consent_relay_findings_total{action="remove-element",technique="img"} 2\n');
    expect(after).toContain('consent_relay_upstream_errors_total{disposition="rejected"} 1\n');
    expect(after).not.toContain('bob');
  });

  it('http.tls serves HTTPS, and links are https', async () => {
    const cert = join(s.tmp.path, 'cert.pem');
    const key = join(s.tmp.path, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
      stdio: 'ignore',
    });
    const relay = await start({ http: { listen: '127.0.0.1:0', tls: { certFile: cert, keyFile: key } } });
    const url = relay.web!.links.optIn(ALICE);
    expect(url.startsWith(`https://127.0.0.1:${relay.web!.address.port}/c/`)).toBe(true);
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet(url, { ca: readFileSync(cert) }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      }).on('error', reject);
    });
    expect(body).toMatch(/^200 [\s\S]*Allow email tracking/);
    await expect(fetch(url.replace('https:', 'http:'))).rejects.toThrow();
  });

  it('a wording file replaces the English text and names its version', async () => {
    const file = join(s.tmp.path, 'wording.yaml');
    writeFileSync(file, 'version: de-1\nlang: de\nopt-in:\n  title: E-Mail-Tracking erlauben\n');
    const relay = await start({ http: { listen: '127.0.0.1:0', wording: file } });
    const page = await (await fetch(relay.web!.links.optIn(ALICE))).text();
    expect(page).toContain('<html lang="de">');
    expect(page).toContain('<h1>E-Mail-Tracking erlauben</h1>');
    expect(page).toContain('name="wording" value="de-1"');
  });
});
