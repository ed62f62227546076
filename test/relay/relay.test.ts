/**
 * The relay end to end over real SMTP on loopback: nodemailer as the client, a recording
 * smtp-server as the upstream, real SQLite files and spool under a temp data dir.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { RelayError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { startRelay } from '../../src/main.js';
import { silentLogger } from '../../src/log.js';
import { reply, type RecordingUpstream } from '../helpers/upstream.js';
import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { useRelayScene } from '../helpers/scene.js';
import { decodedText } from '../helpers/mime.js';
import { manyTrackers } from '../helpers/build.js';
import { receivedFields, withoutTrace } from '../helpers/received.js';

/**
 * More findings than fit on the stack as call arguments: findings.push(...spread) failed with
 * "Maximum call stack size exceeded" from about 120,000 (65,000 in the report that found it).
 */
const TRACKERS = 150_000;
import type { Engine } from '../../src/pipeline/relay.js';
import { emptyConsentStore } from '../../src/consent/empty.js';
import type { ConsentStore } from '../../src/consent/store.js';
import { SqliteAuditLog } from '../../src/audit/sqlite.js';

const fixture = (name: string): Buffer => readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', name));
const MAILCHIMP = fixture('01-mailchimp-newsletter-qp.eml');
const PIXEL = 'list-manage.com/track/open.php';
const CLICK = 'list-manage.com/track/click';

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
const toClose: Array<() => Promise<void>> = [];

useRelayScene((s) => ({ tmp, up } = s), toClose);

async function relay(extra: Record<string, unknown> = {}, engine?: Engine) {
  const r = await startTestRelay(relayConfig(tmp.path, up.port, extra), engine ? { engine } : {});
  toClose.push(() => r.close());
  return r;
}

describe('one copy per consent class', () => {
  it('three recipients with three consents get three copies with the right content and envelope', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    await grant(tmp.path, 'clicks@example.org', ['clicks']);
    const r = await relay();
    const res = await send(r.port, 'sales@example.com', ['full@example.org', 'clicks@example.org', 'none@example.org'], MAILCHIMP);
    expect(res.code).toBe(250);
    const got = await up.waitFor(3, 5000);
    expect(got).toHaveLength(3);
    const byRcpt = new Map(got.map((g) => [g.to.join(','), g]));
    expect([...byRcpt.keys()].sort()).toEqual(['clicks@example.org', 'full@example.org', 'none@example.org']);
    for (const g of got) expect(g.from).toBe('sales@example.com');

    const full = byRcpt.get('full@example.org')!;
    expect(withoutTrace(full.raw).equals(MAILCHIMP), 'full consent: original bytes after the Received: header').toBe(true);

    const clicks = await decodedText(byRcpt.get('clicks@example.org')!.raw);
    expect(clicks).not.toContain(PIXEL);
    expect(clicks).toContain(CLICK);

    const none = await decodedText(byRcpt.get('none@example.org')!.raw);
    expect(none).not.toContain(PIXEL);
    expect(none).not.toContain(CLICK);
    const parsed = await simpleParser(byRcpt.get('none@example.org')!.raw);
    expect(parsed.subject).toBe((await simpleParser(MAILCHIMP)).subject);
  });

  it('recipients sharing full consent get one copy with the original bytes', async () => {
    await grant(tmp.path, 'a@example.org', ['opens', 'clicks']);
    await grant(tmp.path, 'b@example.org', ['opens', 'clicks']);
    const r = await relay();
    expect((await send(r.port, 'sales@example.com', ['a@example.org', 'b@example.org'], MAILCHIMP)).code).toBe(250);
    const [copy] = await up.waitFor(1, 5000);
    await new Promise((res) => setTimeout(res, 200));
    expect(up.received).toHaveLength(1);
    expect(copy!.to.sort()).toEqual(['a@example.org', 'b@example.org']);
    expect(withoutTrace(copy!.raw).equals(MAILCHIMP)).toBe(true);
  });

  it('recipients sharing no consent get one stripped copy', async () => {
    const r = await relay();
    expect((await send(r.port, 'sales@example.com', ['x@example.org', 'y@example.net'], MAILCHIMP)).code).toBe(250);
    const [copy] = await up.waitFor(1, 5000);
    expect(up.received).toHaveLength(1);
    expect(copy!.to).toHaveLength(2);
    expect(await decodedText(copy!.raw)).not.toContain(PIXEL);
  });

  it('monitor mode delivers the original and still records what enforce would remove', async () => {
    const r = await relay({ policy: { mode: 'monitor' } });
    expect((await send(r.port, 'sales@example.com', ['x@example.org'], MAILCHIMP)).code).toBe(250);
    const [copy] = await up.waitFor(1, 5000);
    expect(receivedFields(copy!.raw)).toHaveLength(1);
    expect(withoutTrace(copy!.raw).equals(MAILCHIMP)).toBe(true);
  });
});

describe('Received: header', () => {
  /** nodemailer as a client that says EHLO `helo`. */
  async function sendAs(port: number, helo: string, to: string[], raw: Buffer): Promise<string> {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, name: helo });
    try {
      return (await transport.sendMail({ envelope: { from: 'sales@example.com', to }, raw })).response;
    } finally {
      transport.close();
    }
  }
  const DATE = /; (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000$/;

  it('every copy of a multi-class transaction carries exactly one, naming the client, the relay, the queue id, and the recipient only when it is alone', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    await grant(tmp.path, 'clicks@example.org', ['clicks']);
    const r = await relay();
    const before = Date.now();
    const response = await sendAs(r.port, 'client.example', ['full@example.org', 'clicks@example.org', 'none@example.org', 'other@example.net'], MAILCHIMP);
    const queueId = /queued as ([\w-]+)/.exec(response)?.[1];
    expect(queueId, response).toBeTruthy();
    const got = await up.waitFor(3, 5000);
    const byRcpt = new Map(got.map((g) => [g.to.slice().sort().join(','), g]));
    expect([...byRcpt.keys()].sort()).toEqual(['clicks@example.org', 'full@example.org', 'none@example.org,other@example.net']);
    for (const [rcpts, copy] of byRcpt) {
      const fields = receivedFields(copy.raw);
      expect(fields, rcpts).toHaveLength(1);
      const f = fields[0]!;
      expect(copy.raw.toString('latin1').startsWith('Received: from client.example ([127.0.0.1])\r\n\tby relay.test (consent-relay) with ESMTP id ')).toBe(true);
      expect(f).toContain(`with ESMTP id ${queueId}`);
      if (rcpts.includes(',')) expect(f, 'several recipients: none named').not.toMatch(/\bfor\b/);
      else expect(f).toContain(`for <${rcpts}>;`);
      expect(f).toMatch(DATE);
      const at = Date.parse(f.slice(f.lastIndexOf(';') + 1));
      expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(at).toBeLessThanOrEqual(Date.now());
    }
    // the engine's output is what was delivered, header included; full consent: the original after it
    expect(withoutTrace(byRcpt.get('full@example.org')!.raw).equals(MAILCHIMP)).toBe(true);
    expect(await decodedText(byRcpt.get('none@example.org,other@example.net')!.raw)).not.toContain(PIXEL);
  });

  it('a HELO string with header syntax in it cannot forge fields', async () => {
    const r = await relay();
    // smtp-server takes one word after EHLO (no spaces, no line break), anything else inside it
    await sendAs(r.port, 'evil(x);for<a@b>;X-Injected:yes', ['none@example.org'], MAILCHIMP);
    const [copy] = await up.waitFor(1, 5000);
    const fields = receivedFields(copy!.raw);
    expect(fields).toHaveLength(1);
    expect(fields[0]).toMatch(/^from evil\?x\?\?for\?a\?b\?\?x-injected\?yes \(\[127\.0\.0\.1\]\)\s+by relay\.test /);
    expect(copy!.raw.toString('latin1')).not.toMatch(/^X-Injected/m);
  });

  it('a spooled copy carries it too, once, when the spool delivers it later', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    let soft = true;
    up.setBehaviour((s) => (soft && s.stage === 'rcpt' && s.address === 'none@example.org' ? reply(451, '4.2.0 mailbox busy') : 'accept'));
    const r = await relay();
    const response = await sendAs(r.port, 'client.example', ['full@example.org', 'none@example.org'], MAILCHIMP);
    const queueId = /queued as ([\w-]+)/.exec(response)?.[1];
    const [entry] = await r.spool.list();
    const stored = await r.spool.get(entry!.id);
    expect(receivedFields(stored!.raw)).toEqual([expect.stringContaining(`id ${queueId}\tfor <none@example.org>;`)]);
    soft = false;
    const got = await up.waitFor(2, 10_000);
    const later = got.find((g) => g.to.includes('none@example.org'))!;
    expect(receivedFields(later.raw)).toHaveLength(1);
    expect(later.raw.equals(stored!.raw)).toBe(true);
  });
});

describe('audit', () => {
  it('records each finding and each relayed copy, findable by recipient, without raw URLs or addresses', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    const r = await relay();
    expect((await send(r.port, 'sales@example.com', ['full@example.org', 'alice@example.org'], MAILCHIMP)).code).toBe(250);
    await up.waitFor(2, 5000);
    await r.close();
    const log = new SqliteAuditLog(tmp.path);
    try {
      const alice = await log.list({ recipient: 'alice@example.org' });
      const findings = alice.filter((e) => e.type === 'finding');
      expect(findings.length).toBeGreaterThan(0);
      expect(findings.every((f) => f.type === 'finding' && f.ruleId && f.vendor === 'Mailchimp')).toBe(true);
      const relayed = alice.filter((e) => e.type === 'relayed');
      expect(relayed).toHaveLength(1);
      expect(relayed[0]).toMatchObject({ sender: 'sales@example.com', consentClass: '', recipientCount: 1, mode: 'enforce' });
      const full = await log.list({ recipient: 'full@example.org' });
      expect(full.filter((e) => e.type === 'finding')).toHaveLength(0);
      expect(full.filter((e) => e.type === 'relayed')).toHaveLength(1);
      const dump = JSON.stringify(await log.list());
      expect(dump).not.toContain('alice@example.org');
      expect(dump).not.toMatch(/[?&]e=/);
    } finally {
      await log.close();
    }
  });

  it('monitor mode records what would have been removed', async () => {
    const r = await relay({ policy: { mode: 'monitor' } });
    expect((await send(r.port, 'sales@example.com', ['x@example.org'], MAILCHIMP)).code).toBe(250);
    await up.waitFor(1, 5000);
    await r.close();
    const log = new SqliteAuditLog(tmp.path);
    try {
      const rows = await log.list({ recipient: 'x@example.org' });
      expect(rows.find((e) => e.type === 'relayed')).toMatchObject({ mode: 'monitor' });
      expect(rows.filter((e) => e.type === 'finding' && e.action === 'remove-element').length).toBeGreaterThan(0);
    } finally {
      await log.close();
    }
  });
});

describe('delivery outcomes', () => {
  it('upstream 4xx to everything: client gets 451, nothing delivered, nothing spooled', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' ? reply(451, '4.3.0 try later') : 'accept'));
    const r = await relay();
    const res = await send(r.port, 'sales@example.com', ['a@example.org'], MAILCHIMP);
    expect(res.code).toBe(451);
    expect(res.response).toMatch(/^451 4\.3\.0 /);
    expect(up.received).toHaveLength(0);
    expect(await r.spool.list()).toHaveLength(0);
  });

  it("upstream 5xx: client gets a 5xx with the upstream's reason", async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' ? reply(550, '5.1.1 no such user here') : 'accept'));
    const r = await relay();
    const res = await send(r.port, 'sales@example.com', ['ghost@example.org'], MAILCHIMP);
    expect(res.code).toBe(550);
    // the upstream's own enhanced status code and text, passed through
    expect(res.response).toMatch(/^550 5\.1\.1 no such user here/);
    expect(up.received).toHaveLength(0);
  });

  it('one copy accepted, the other temp-failed: 250, the other is spooled and delivered when the upstream recovers', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    let soft = true;
    up.setBehaviour((s) => (soft && s.stage === 'rcpt' && s.address === 'none@example.org' ? reply(451, '4.2.0 mailbox busy') : 'accept'));
    const r = await relay();
    const res = await send(r.port, 'sales@example.com', ['full@example.org', 'none@example.org'], MAILCHIMP);
    expect(res.code).toBe(250);
    expect(up.received.map((g) => g.to.join())).toEqual(['full@example.org']);
    const spooled = await r.spool.list();
    expect(spooled).toHaveLength(1);
    expect(spooled[0]!.meta.envelope.to).toEqual(['none@example.org']);
    soft = false;
    const got = await up.waitFor(2, 10_000);
    expect(got[1]!.to).toEqual(['none@example.org']);
    expect(await decodedText(got[1]!.raw)).not.toContain(PIXEL);
    await expect.poll(async () => (await r.spool.list()).length, { timeout: 5000 }).toBe(0);
    await new Promise((res2) => setTimeout(res2, 500));
    expect(up.received).toHaveLength(2);
  });

  it('gives up after the configured time and sends the sender a DSN', async () => {
    await grant(tmp.path, 'full@example.org', ['opens', 'clicks']);
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address === 'none@example.org' ? reply(451, '4.2.0 mailbox busy') : 'accept'));
    const r2 = await relay({ spool: { retryInitial: '100ms', retryMax: '200ms', giveUpAfter: '700ms' } });
    const res = await send(r2.port, 'sales@example.com', ['full@example.org', 'none@example.org'], MAILCHIMP);
    expect(res.code).toBe(250);
    const got = await up.waitFor(2, 10_000);
    const dsn = got[1]!;
    expect(dsn.from).toBe('');
    expect(dsn.to).toEqual(['sales@example.com']);
    const text = dsn.raw.toString('latin1');
    expect(text).toMatch(/Content-Type: multipart\/report;[\s\S]*report-type=delivery-status/i);
    expect(text).toMatch(/Final-Recipient: rfc822; ?none@example.org/i);
    expect(text).toMatch(/Status: 4\.2\.0|Status: 4\./);
    // the entry goes right after the DSN is accepted upstream
    await expect.poll(async () => (await r2.spool.list()).length, { timeout: 5000 }).toBe(0);
  });
});

describe('fail closed', () => {
  it('an unexpected engine failure (a bug) is a 451 with the queue id, and nothing is delivered', async () => {
    const r = await relay({}, async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'x')");
    });
    const res = await send(r.port, 'sales@example.com', ['a@example.org'], MAILCHIMP);
    expect(res.code).toBe(451);
    // not the sender's fault and not their business: no internal message, an id to report instead
    expect(res.response).toMatch(/^451 4\.3\.0 local error in processing \(queue id [\w-]+\); nothing was sent\. Try again later/);
    expect(res.response).not.toMatch(/Cannot read properties/);
    await new Promise((res2) => setTimeout(res2, 200));
    expect(up.attempts).toHaveLength(0);
  });

  // structure no client reads the same way will not improve on a retry: 554 5.6.x, the part, a fix
  const TOP = 'From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n';
  const TRACKED = '<img src="https://u123.ct.sendgrid.net/wf/open?upn=aBcDeF0123456789aBcDeF" width="1" height="1">';
  const MALFORMED: ReadonlyArray<readonly [string, string, RegExp]> = [
    [
      'a multipart whose boundary never occurs',
      `${TOP}Content-Type: multipart/mixed; boundary="declared"\r\n\r\n--used\r\nContent-Type: text/html\r\n\r\n${TRACKED}\r\n--used--\r\n`,
      /^554 5\.6\.0 part 1: multipart\/mixed whose boundary never occurs; cannot find its parts; the message cannot be filtered\. Fix the sending program, or send the content as an attachment/,
    ],
    [
      'a multipart without a boundary parameter',
      `${TOP}Content-Type: multipart/alternative\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n${TRACKED}\r\n--x--\r\n`,
      /^554 5\.6\.0 part 1: multipart\/alternative without a boundary parameter; .*the message cannot be filtered\. Fix the sending program/,
    ],
    [
      'two Content-Type headers that disagree',
      `${TOP}Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\n${TRACKED}\r\n`,
      /^554 5\.6\.0 part 1: conflicting Content-Type headers \(.*text\/plain.*text\/html\); .*the message cannot be filtered\./,
    ],
    [
      'broken base64 in the HTML part',
      `${TOP}Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n${TRACKED}!!\r\n`,
      /^554 5\.6\.0 part 1: broken base64 .*; the message cannot be filtered\./,
    ],
    [
      'an unknown transfer encoding on the HTML part',
      `${TOP}Content-Type: text/html\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n${TRACKED}\r\n`,
      /^554 5\.6\.1 part 1: unknown Content-Transfer-Encoding "x-uuencode"; .*Send text parts as base64, quoted-printable, 7bit or 8bit/,
    ],
  ];
  for (const [name, raw, expected] of MALFORMED) {
    it(`${name}: 554 5.6.x with the part and what to do, nothing delivered`, async () => {
      const r = await relay();
      const res = await send(r.port, 'sales@example.com', ['b@example.org'], raw);
      expect(res.code).toBe(554);
      expect(res.response).toMatch(expected);
      expect(res.response).not.toMatch(/[\r\n]/);
      await new Promise((res2) => setTimeout(res2, 100));
      expect(up.attempts).toHaveLength(0);
    });
  }

  it('a consent store that cannot answer fails the recipient with 451 at RCPT; nothing is delivered', async () => {
    const failing: ConsentStore = {
      ...emptyConsentStore(),
      lookup: async () => {
        throw new RelayError('CONSENT_STORE_UNAVAILABLE', 'consent store unavailable (database is locked)');
      },
      record: async () => {
        throw new Error('unused');
      },
      show: async () => {
        throw new Error('unused');
      },
      list: async () => [],
      close: async () => undefined,
    };
    const r = await startTestRelay(relayConfig(tmp.path, up.port), { consentStore: failing });
    toClose.push(() => r.close());
    const res = await send(r.port, 'sales@example.com', ['a@example.org'], MAILCHIMP);
    expect(res.code).toBe(451);
    expect(res.response).toMatch(/^451 4\.3\.0 consent store unavailable/);
    expect(up.attempts).toHaveLength(0);
  });

  it('a store that fails in a way it should not (a plain Error, a USAGE error from a bad row) is still a 451 at RCPT', async () => {
    for (const thrown of [new Error('disk I/O error'), new RelayError('USAGE', 'unknown consent scope "x"')]) {
      const failing: ConsentStore = {
        ...emptyConsentStore(),
        ...emptyConsentStore(),
        lookup: async () => {
          throw thrown;
        },
        record: async () => {
          throw new Error('unused');
        },
        show: async () => {
          throw new Error('unused');
        },
        list: async () => [],
        close: async () => undefined,
      };
      const r = await startTestRelay(relayConfig(tmp.path, up.port), { consentStore: failing });
      const res = await send(r.port, 'sales@example.com', ['a@example.org'], MAILCHIMP);
      await r.close();
      expect(res.code).toBe(451);
      expect(res.response).toMatch(/^451 4\.3\.0 consent store unavailable, try again later/);
    }
    expect(up.attempts).toHaveLength(0);
  });

  it('refuses to start a listener on a non-loopback address', async () => {
    const config = loadConfig(undefined, { listen: '0.0.0.0:2525', upstream: `127.0.0.1:${up.port}`, dataDir: tmp.path });
    await expect(startRelay(config, { logger: silentLogger() })).rejects.toThrow(/not a loopback address/);
  });
});

describe('volume', () => {
  it('a message with 150,000 trackers is filtered and delivered without any of them', { timeout: 120_000 }, async () => {
    const raw = manyTrackers(TRACKERS);
    // 16 MB of HTML costs about 640 MB at its peak (smtp/budget.ts TEXT_FACTOR): more than the
    // default memory budget, which refuses it with 552 5.3.4 rather than grow
    const r = await relay({ limits: { memoryBudget: '1GB' } });
    const res = await send(r.port, 'sales@example.com', ['none@example.org'], raw);
    expect(res.response).toMatch(/^250 /);
    const [copy] = await up.waitFor(1, 60_000);
    const text = await decodedText(copy!.raw);
    expect(text).toContain('item 149999');
    expect(text).not.toContain('ct.sendgrid.net/wf/open');
    expect(text).not.toContain('list-manage.com/track/click');
  });
});
