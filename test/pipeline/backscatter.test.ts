/**
 * No backscatter: a DSN goes only to an envelope sender the listener vouched for. The pipeline
 * (relayMessage) with the real engine, a real spool and audit log in a temporary directory, and a
 * real SMTP upstream that takes one recipient and refuses the other for good; the transaction
 * differs only in who handed it over.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import type { DeliveryEvent } from '../../src/delivery/events.js';
import { Spool } from '../../src/delivery/spool.js';
import { SmtpUpstream } from '../../src/delivery/upstream.js';
import { silentLogger } from '../../src/log.js';
import { openAuditRecorder, type AuditRecorder } from '../../src/pipeline/audit.js';
import { relayMessage, type Transaction } from '../../src/pipeline/relay.js';
import { senderVouch } from '../../src/pipeline/vouch.js';
import { rewriteSegments } from '../../src/rewrite/engine.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import type { Consent } from '../../src/rewrite/types.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { reply, startUpstream, type RecordingUpstream } from '../helpers/upstream.js';

const RAW = Buffer.from('From: sales@example.com\r\nTo: ok@example.org\r\nSubject: offer\r\nMessage-ID: <b1@example.com>\r\n\r\nHello\r\n');
const NO_CONSENT: Consent = { opens: false, clicks: false };
const rules = loadRules();

let tmp: { path: string; cleanup: () => Promise<void> };
let up: RecordingUpstream;
let upstream: SmtpUpstream;
let spool: Spool;
let audit: AuditRecorder;
let events: DeliveryEvent[];
beforeEach(async () => {
  tmp = await makeTempDir();
  up = await startUpstream({ behaviour: (s) => (s.stage === 'rcpt' && s.address === 'gone@example.org' ? reply(550, '5.1.1 no such user') : 'accept') });
  upstream = new SmtpUpstream({ host: up.host, port: up.port, name: 'relay.test', connectionTimeoutMs: 2000 });
  spool = await Spool.open(tmp.path);
  audit = openAuditRecorder(tmp.path);
  events = [];
});
afterEach(async () => {
  await upstream.close();
  await audit.close();
  await up.close();
  await tmp.cleanup();
});

function tx(queueId: string, clientAddress: string, extra: Partial<Transaction> = {}): Transaction {
  return {
    queueId,
    from: 'forged-victim@example.net',
    recipients: [
      { address: 'ok@example.org', consent: NO_CONSENT },
      { address: 'gone@example.org', consent: NO_CONSENT },
    ],
    raw: [RAW],
    trace: { helo: 'client.test', clientAddress, by: 'relay.test', esmtp: true, tls: false, at: new Date() },
    ...extra,
  };
}

async function relay(t: Transaction) {
  return relayMessage(
    {
      rules,
      engine: rewriteSegments,
      upstream,
      spool,
      audit,
      mode: 'enforce',
      limits: {},
      policy: { keepCampaignParams: true, readReceipts: 'keep' },
      logger: silentLogger(),
      delivery: { reportingMta: 'relay.test', onEvent: (e) => events.push(e) },
    },
    t,
  );
}

async function bounced(queueId: string) {
  const log = new SqliteAuditLog(tmp.path);
  try {
    return (await log.list({ queueId, type: 'bounced' })) as Array<{ dsn: string; dsnRecipientHash: string | null }>;
  } finally {
    await log.close();
  }
}

describe('DSNs and who vouched for the sender', () => {
  it('a sender nobody vouched for gets no DSN: 250, bounce on record with DSN suppressed, nothing spooled', async () => {
    const r = await relay(tx('QNONE', '192.0.2.7'));
    expect(r.code).toBe(250);
    expect(r.message).toBe('Ok: delivered to 1, bounced 1');
    expect(await spool.list()).toEqual([]);
    expect(up.received.map((m) => [m.from, m.to])).toEqual([['forged-victim@example.net', ['ok@example.org']]]);
    expect(events).toContainEqual({ type: 'dsn-suppressed', forId: null, reason: 'unvouched-sender' });
    expect(await bounced('QNONE')).toEqual([expect.objectContaining({ dsn: 'suppressed', dsnRecipientHash: null })]);
  });

  it('a local client (the loopback listener) is vouched for: the DSN is queued to the sender', async () => {
    const r = await relay(tx('QLOCAL', '127.0.0.1'));
    expect(r.code).toBe(250);
    const dsn = (await spool.list()).filter((e) => e.meta.consentClass === 'dsn');
    expect(dsn.map((e) => e.meta.envelope)).toEqual([{ from: '', to: ['forged-victim@example.net'] }]);
    expect(await bounced('QLOCAL')).toEqual([expect.objectContaining({ dsn: 'queued' })]);
  });

  it('a listener may vouch explicitly (an allow-listed smart host), and an authenticated session is vouched for', async () => {
    await relay(tx('QALLOW', '192.0.2.7', { senderVouch: 'allowlisted' }));
    expect(await bounced('QALLOW')).toEqual([expect.objectContaining({ dsn: 'queued' })]);
    expect(senderVouch(tx('x', '192.0.2.7', { trace: { ...tx('x', '').trace, clientAddress: '192.0.2.7', auth: { user: 'alice' } } }))).toBe('authenticated');
    expect(senderVouch(tx('x', '::1'))).toBe('local');
    expect(senderVouch(tx('x', '127.0.0.1', { senderVouch: 'none' }))).toBe('none');
  });

  it('a spooled copy remembers it: giving up later suppresses the DSN too', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address === 'gone@example.org' ? reply(451, '4.2.0 busy') : 'accept'));
    expect((await relay(tx('QLATER', '192.0.2.7'))).code).toBe(250);
    const [entry] = await spool.list();
    expect(entry?.meta.senderVouched).toBe(false);
    const { SpoolWorker } = await import('../../src/delivery/spoolWorker.js');
    const worker = new SpoolWorker({ spool, upstream, reportingMta: 'relay.test', now: () => Date.now() + 10 * 86_400_000, onEvent: (e) => events.push(e), record: (d) => audit.later(d) });
    await worker.kick();
    expect(await spool.list()).toEqual([]);
    expect(up.received.filter((m) => m.from === '')).toEqual([]);
    expect(events).toContainEqual({ type: 'dsn-suppressed', forId: entry?.id, reason: 'unvouched-sender' });
    expect(await bounced('QLATER')).toEqual([expect.objectContaining({ dsn: 'suppressed' })]);
  });

  it('the null sender never gets one, vouched or not', async () => {
    await relay({ ...tx('QNULL', '127.0.0.1'), from: '' });
    expect(await spool.list()).toEqual([]);
    expect(events).toContainEqual({ type: 'dsn-suppressed', forId: null, reason: 'null-sender' });
  });
});
