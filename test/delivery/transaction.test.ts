import { simpleParser } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Disposition } from '../../src/delivery/dispositions.js';
import type { DeliveryEvent } from '../../src/delivery/events.js';
import { Spool, SpoolWorker } from '../../src/delivery/spool.js';
import { deliverTransaction } from '../../src/delivery/transaction.js';
import type { Copy } from '../../src/delivery/types.js';
import { SmtpUpstream } from '../../src/delivery/upstream.js';
import { reply, startUpstream } from '../helpers/upstream.js';
import type { RecordingUpstream } from '../helpers/upstream.js';
import { makeTempDir, makeUnwritableDir } from '../helpers/tmpdir.js';

const SENDER = 'alice@example.com';
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

function copy(consentClass: string, to: string[], from = SENDER): Copy {
  const raw = Buffer.from(`From: Alice <${SENDER}>\r\nTo: list@example.org\r\nSubject: copy for ${consentClass}\r\nMessage-ID: <m-${consentClass}@example.com>\r\n\r\nbody for ${consentClass}\r\n`);
  return { consentClass, envelope: { from, to }, raw, messageId: `<m-${consentClass}@example.com>` };
}

describe('deliverTransaction and the spool worker over SMTP', () => {
  let up: RecordingUpstream;
  let upstream: SmtpUpstream;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let spool: Spool;
  let clock: number;
  const now = (): number => clock;
  let events: DeliveryEvent[];
  let recorded: Disposition[];
  const record = async (d: readonly Disposition[]): Promise<void> => void recorded.push(...d);
  const worker = (giveUpAfterMs = 3_600_000): SpoolWorker =>
    new SpoolWorker({
      spool,
      upstream,
      reportingMta: 'relay.test',
      now,
      policy: { initialDelayMs: 60_000, factor: 2, maxDelayMs: 600_000, giveUpAfterMs },
      onEvent: (e) => events.push(e),
      record,
    });
  const opts = { reportingMta: 'relay.test', now, firstRetryDelayMs: 60_000, onEvent: (e: DeliveryEvent) => events.push(e) };

  beforeEach(async () => {
    clock = T0;
    events = [];
    recorded = [];
    up = await startUpstream();
    upstream = new SmtpUpstream({ host: '127.0.0.1', port: up.port, name: 'relay.test', connectionTimeoutMs: 2000 });
    tmp = await makeTempDir();
    spool = await Spool.open(tmp.path);
  });
  afterEach(async () => {
    await upstream.close();
    await up.close();
    await tmp.cleanup();
  });

  it('every copy accepted → 250, one upstream transaction per copy, nothing spooled', async () => {
    const r = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org', 'c@example.org'])], upstream, spool, opts);
    expect(r).toMatchObject({ code: 250, enhanced: '2.0.0' });
    const byRecipients = new Map(up.received.map((t) => [t.to.join(','), t.raw.toString()]));
    expect([...byRecipients.keys()].sort()).toEqual(['a@example.org', 'b@example.org,c@example.org']);
    expect(byRecipients.get('a@example.org')).toContain('Subject: copy for opens');
    expect(byRecipients.get('b@example.org,c@example.org')).toContain('Subject: copy for none');
    expect(await spool.list()).toEqual([]);
  });

  it('all 4xx → 451 and nothing spooled (the client keeps the message)', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' ? reply(450, '4.2.1 mailbox busy') : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org'])], upstream, spool, opts);
    expect(r.code).toBe(451);
    expect(r.enhanced).toBe('4.2.1');
    expect(r.message).toContain('mailbox busy');
    expect(await spool.list()).toEqual([]);
    expect(up.received).toEqual([]);
  });

  it('upstream down → 451 4.4.1 and nothing spooled', async () => {
    await up.down();
    const r = await deliverTransaction([copy('opens', ['a@example.org'])], upstream, spool, opts);
    expect(r).toMatchObject({ code: 451, enhanced: '4.4.1' });
    expect(await spool.list()).toEqual([]);
  });

  it("all 5xx → the upstream's 5xx with its reason", async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' ? reply(550, '5.1.1 no such user here') : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org'])], upstream, spool, opts);
    expect(r).toEqual({ code: 550, enhanced: '5.1.1', message: 'no such user here' });
    expect(await spool.list()).toEqual([]);
  });

  it('5xx at DATA → that 5xx', async () => {
    up.setBehaviour((s) => (s.stage === 'data' ? reply(554, '5.7.1 message refused by policy') : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org'])], upstream, spool, opts);
    expect(r).toEqual({ code: 554, enhanced: '5.7.1', message: 'message refused by policy' });
  });

  it('nothing accepted, permanent and temporary mixed → 451', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' ? (s.address.startsWith('a') ? reply(550, '5.1.1 unknown') : reply(451, '4.3.0 later')) : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org'])], upstream, spool, opts);
    expect(r.code).toBe(451);
    expect(await spool.list()).toEqual([]);
  });

  it('one copy accepted, the other deferred → 250, remainder spooled, delivered exactly once on recovery', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address === 'b@example.org' ? reply(451, '4.3.0 try again later') : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org'])], upstream, spool, opts);
    expect(r.code).toBe(250);
    expect(up.received.map((t) => t.to)).toEqual([['a@example.org']]);

    const entries = await spool.list();
    expect(entries).toHaveLength(1);
    expect(entries[0]?.meta).toMatchObject({
      consentClass: 'none',
      envelope: { from: SENDER, to: ['b@example.org'] },
      attempts: 1,
      nextAttemptAt: new Date(T0 + 60_000).toISOString(),
    });
    expect(entries[0]?.meta.lastError).toContain('4.3.0 try again later');
    const id = entries[0]?.id ?? '';
    expect((await spool.get(id))?.raw.toString()).toContain('Subject: copy for none');

    const w = worker();
    // not due yet: nothing happens
    await w.kick();
    expect(up.received).toHaveLength(1);

    // due, upstream still down
    await up.down();
    clock += 60_000;
    await w.kick();
    const meta = (await spool.get(id))?.meta;
    expect(meta?.attempts).toBe(2);
    expect(meta?.lastError).toMatch(/^451 4\.4\.1 /);
    expect(meta?.nextAttemptAt).toBe(new Date(clock + 120_000).toISOString()); // backoff doubled

    // recovered
    await up.up();
    up.setBehaviour(() => 'accept');
    clock += 120_000;
    await w.kick();
    expect(await spool.list()).toEqual([]);
    await w.kick();
    clock += 3_600_000;
    await w.kick();
    const forB = up.received.filter((t) => t.to.includes('b@example.org'));
    expect(forB).toHaveLength(1);
    expect(forB[0]?.raw.toString()).toContain('Subject: copy for none');
    expect(forB[0]?.from).toBe(SENDER);
    expect(events.map((e) => e.type)).toContain('retry-delivered');
  });

  it('a recipient rejected in info.rejected while another is accepted: never counted as delivered', async () => {
    up.setBehaviour((s) => {
      if (s.stage !== 'rcpt') return 'accept';
      if (s.address === 'gone@example.org') return reply(550, '5.1.1 user unknown');
      if (s.address === 'busy@example.org') return reply(452, '4.2.2 mailbox full');
      return 'accept';
    });
    let kicked = 0;
    const r = await deliverTransaction([copy('none', ['ok@example.org', 'gone@example.org', 'busy@example.org'])], upstream, spool, {
      ...opts,
      queueId: 'Q7',
      record,
      onSpooled: () => {
        // the record is complete before the DSN can be kicked
        expect(recorded.map((d) => d.type)).toEqual(['relayed', 'spooled', 'bounced']);
        kicked += 1;
      },
    });
    expect(r.code).toBe(250);
    expect(r.message).toContain('queued 1');
    expect(r.message).toContain('bounced 1');
    expect(up.received.map((t) => t.to)).toEqual([['ok@example.org']]);
    expect(kicked).toBe(1);

    const entries = await spool.list();
    const retry = entries.find((e) => e.meta.consentClass === 'none');
    const dsn = entries.find((e) => e.meta.consentClass === 'dsn');
    expect(retry?.meta.envelope.to).toEqual(['busy@example.org']);
    expect(dsn?.meta.envelope).toEqual({ from: '', to: [SENDER] });

    // the worker sends the DSN (due now) and leaves the deferred recipient for later
    await worker().kick();
    const bounce = up.received.find((t) => t.from === '');
    expect(bounce?.to).toEqual([SENDER]);
    const parsed = await simpleParser(bounce?.raw ?? Buffer.alloc(0));
    expect(parsed.text).toContain('Final-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n');
    expect(parsed.text).not.toContain('busy@example.org');
    expect((await spool.list()).map((e) => e.meta.consentClass)).toEqual(['none']);

    // each recipient's own fate, with the upstream's own words, all under the transaction's id
    const [relayed, spooled, bounced, dsnDelivered] = recorded;
    expect(recorded).toHaveLength(4);
    expect(relayed).toMatchObject({ type: 'relayed', queueId: 'Q7', consentClass: 'none', recipients: ['ok@example.org'] });
    expect(spooled).toMatchObject({ type: 'spooled', queueId: 'Q7', recipients: ['busy@example.org'], spoolId: retry?.id, attempt: 1, response: expect.stringMatching(/^452 4\.2\.2 mailbox full/) });
    expect(bounced).toMatchObject({
      type: 'bounced',
      queueId: 'Q7',
      recipients: ['gone@example.org'],
      spoolId: null,
      attempt: 1,
      cause: 'permanent',
      dsn: { fate: 'queued', to: SENDER, spoolId: dsn?.id },
      response: expect.stringMatching(/^550 5\.1\.1 user unknown/),
    });
    expect(dsnDelivered).toMatchObject({ type: 'delivered-from-spool', queueId: 'Q7', consentClass: 'dsn', recipients: [SENDER], spoolId: dsn?.id, attempt: 1 });
  });

  it('gives up after the configured time and sends a DSN to the sender', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address !== SENDER ? reply(451, '4.4.2 connection dropped upstream') : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org'])], upstream, spool, opts);
    expect(r.code).toBe(451); // nothing accepted: nothing spooled, client retries
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address === 'b@example.org' ? reply(451, '4.4.2 connection dropped upstream') : 'accept'));
    const r2 = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org'])], upstream, spool, opts);
    expect(r2.code).toBe(250);

    const w = worker(30 * 60_000);
    clock += 60_000;
    await w.kick(); // attempt 2, still deferred
    expect(up.received.filter((t) => t.from === '')).toEqual([]);
    clock += 30 * 60_000;
    await w.kick(); // past the deadline: last attempt fails → bounce
    expect(await spool.list()).toEqual([]);
    const dsns = up.received.filter((t) => t.from === '');
    expect(dsns).toHaveLength(1);
    expect(dsns[0]?.to).toEqual([SENDER]);
    const parsed = await simpleParser(dsns[0]?.raw ?? Buffer.alloc(0));
    expect(parsed.from?.value[0]?.address).toBe('MAILER-DAEMON@relay.test');
    expect(parsed.text).toContain('Final-Recipient: rfc822; b@example.org\nAction: failed\nStatus: 4.4.2\n');
    expect(parsed.text).toContain('Diagnostic-Code: smtp; 451 4.4.2 connection dropped upstream');
    expect(parsed.attachments.find((a) => a.contentType === 'text/rfc822-headers')?.content.toString()).toContain('Subject: copy for none');
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['gave-up', 'dsn-sent']));
    // each attempt on record; the last one expired, and the DSN went to the sender at once
    expect(recorded.map((d) => [d.type, d.type === 'relayed' || d.type === 'rejected' ? null : d.attempt])).toEqual([
      ['retried', 2],
      ['bounced', 3],
    ]);
    expect(recorded[1]).toMatchObject({ cause: 'expired', dsn: { fate: 'sent', to: SENDER, spoolId: null }, recipients: ['b@example.org'] });
  });

  it('never sends a DSN to the null sender', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address === 'b@example.org' ? reply(451, '4.3.0 later') : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org'], ''), copy('none', ['b@example.org'], '')], upstream, spool, opts);
    expect(r.code).toBe(250);
    clock += 2 * 3_600_000;
    await worker().kick();
    expect(await spool.list()).toEqual([]);
    expect(up.received.map((t) => t.to)).toEqual([['a@example.org']]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'dsn-suppressed', reason: 'null-sender' }));
  });

  it('a permanent failure at retry time bounces at once; a partial success keeps only the rest', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address !== 'a@example.org' ? reply(451, '4.3.0 later') : 'accept'));
    await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org', 'c@example.org', 'd@example.org'])], upstream, spool, opts);
    up.setBehaviour((s) => {
      if (s.stage !== 'rcpt') return 'accept';
      if (s.address === 'c@example.org') return reply(550, '5.1.1 no such user');
      if (s.address === 'd@example.org') return reply(451, '4.3.0 still later');
      return 'accept';
    });
    clock += 60_000;
    await worker().kick();
    const entries = await spool.list();
    expect(entries.map((e) => e.meta.envelope.to)).toEqual([['d@example.org']]);
    expect(up.received.filter((t) => t.to.includes('b@example.org'))).toHaveLength(1);
    const dsn = up.received.find((t) => t.from === '');
    const parsed = await simpleParser(dsn?.raw ?? Buffer.alloc(0));
    expect(parsed.text).toContain('Final-Recipient: rfc822; c@example.org');
    expect(parsed.text).not.toContain('d@example.org');
  });

  it('spool not writable → 451, even though part was delivered', async () => {
    await makeUnwritableDir(spool.dir);
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address === 'b@example.org' ? reply(451, '4.3.0 later') : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org'])], upstream, spool, opts);
    expect(r).toMatchObject({ code: 451, enhanced: '4.3.0' });
  });

  it('a spool write failing half-way removes the entries already written, then 451', async () => {
    class FailSecondWrite extends Spool {
      private writes = 0;
      override async enqueue(...args: Parameters<Spool['enqueue']>): Promise<string> {
        this.writes += 1;
        if (this.writes === 2) throw new Error('disk full');
        return super.enqueue(...args);
      }
    }
    const flaky = new FailSecondWrite(tmp.path);
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address !== 'a@example.org' ? reply(451, '4.3.0 later') : 'accept'));
    const r = await deliverTransaction([copy('opens', ['a@example.org']), copy('none', ['b@example.org']), copy('clicks', ['c@example.org'])], upstream, flaky, opts);
    expect(r).toMatchObject({ code: 451, enhanced: '4.3.0' });
    expect(await spool.list()).toEqual([]);
    expect(events.filter((e) => e.type === 'spool-rollback')).toHaveLength(1);
  });
});
