/**
 * The audit trail of one message, end to end: real SMTP in, a scripted recording upstream, the
 * spool worker retrying, and `consent-relay audit list --queue-id … --format json` reading it back.
 * Every copy gets its own upstream outcome, every spool attempt a row with the upstream's reply,
 * the bounce names its DSN's recipient by keyed hash, an operator's drop is on record, and no
 * recipient address appears in clear anywhere in the trail (not even quoted in an upstream reply).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { AuditRow } from '../../src/audit/log.js';
import { SqliteAuditLog } from '../../src/audit/sqlite.js';
import { cli } from '../cli/run.js';
import { grant, relayConfig, send, startTestRelay } from '../helpers/relay.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { reply, startUpstream, type RecordingUpstream } from '../helpers/upstream.js';

const MESSAGE = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'golden', '01-mailchimp-newsletter-qp.eml'));
const SENDER = 'sales@example.com';
const FULL = 'full@example.org';
const NONE = 'none@example.org';

let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
let up: RecordingUpstream;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => {
  tmp = await makeTempDir();
  data = tmp.path;
  up = await startUpstream();
  await grant(data, FULL, ['opens', 'clicks']);
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await up.close();
  await tmp.cleanup();
});

function trail(queueId: string): AuditRow[] {
  const r = cli(['audit', 'list', '--data-dir', data, '--queue-id', queueId, '--format', 'json']);
  expect(r.status, r.err).toBe(0);
  // recipients appear only as keyed hashes (the envelope sender of `relayed` rows is the relay's client, kept by design)
  expect(r.out, 'no recipient address in clear in the audit trail').not.toMatch(/[a-z]+@example\.org/);
  return JSON.parse(r.out) as AuditRow[];
}

async function hashOf(address: string): Promise<string> {
  const log = new SqliteAuditLog(data);
  try {
    return log.recipientHash(address);
  } finally {
    await log.close();
  }
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const queueIdOf = (response: string): string => /queued as ([A-Za-z0-9_-]+)/.exec(response)?.[1] ?? '';

describe('the audit trail of a message that is partly spooled', () => {
  it('accepted copy, spooled copy, retried with the upstream reply, refused for good, bounced with a DSN: all in order under one queue id', async () => {
    // the copy for NONE: busy while the client waits and at the first retry, then gone for good
    let noneAttempts = 0;
    up.setBehaviour((s) => {
      if (s.stage !== 'rcpt' || s.address !== NONE) return 'accept';
      noneAttempts++;
      return noneAttempts <= 2 ? reply(451, `4.2.0 <${NONE}>: mailbox busy (${noneAttempts})`) : reply(550, `5.1.1 <${NONE}>: no such user`);
    });
    const relay = await startTestRelay(relayConfig(data, up.port));
    closers.push(() => relay.close());

    const res = await send(relay.port, SENDER, [FULL, NONE], MESSAGE);
    expect(res.code).toBe(250);
    const queueId = queueIdOf(res.response);
    expect(queueId).not.toBe('');

    // the worker retries (451 again), then gets the 550 and sends a DSN to the sender
    const dsn = await up.waitFor(2, 15_000).then((r) => r[1]!);
    expect(dsn.from).toBe('');
    expect(dsn.to).toEqual([SENDER]);
    expect(noneAttempts).toBe(3);
    await until('the bounce row', () => trail(queueId).some((r) => r.type === 'bounced'));

    const rows = trail(queueId);
    const [full, none, sender] = await Promise.all([hashOf(FULL), hashOf(NONE), hashOf(SENDER)]);
    expect(rows.every((r) => r.queueId === queueId)).toBe(true);
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((a, b) => a - b));
    // findings first (only the copy for NONE had trackers removed), then each copy's own fate in order
    const findings = rows.filter((r) => r.type === 'finding');
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((r) => r.consentClass === '' && r.recipientHashes.join() === none)).toBe(true);
    const fate = rows.filter((r) => r.type !== 'finding');
    expect(rows.indexOf(fate[0]!)).toBe(findings.length);
    expect(fate.map((r) => [r.type, r.consentClass])).toEqual([
      ['relayed', 'opens,clicks'],
      ['spooled', ''],
      ['retried', ''],
      ['bounced', ''],
    ]);
    const [relayed, spooled, retried, bounced] = fate;

    // the accepted copy says accepted, with its own upstream reply and only its own recipient
    expect(relayed).toMatchObject({ type: 'relayed', recipientHashes: [full], recipientCount: 1, sender: SENDER, mode: 'enforce' });
    expect(relayed!.type === 'relayed' && relayed!.upstream).toMatch(/^250 /);

    // the spooled copy never says accepted: 451 with the upstream's words, then each attempt
    if (spooled?.type !== 'spooled' || retried?.type !== 'retried' || bounced?.type !== 'bounced') throw new Error('unexpected row types');
    expect(spooled).toMatchObject({ recipientHashes: [none], attempt: 1 });
    expect(spooled.upstream).toMatch(/^451 4\.2\.0 .*mailbox busy \(1\)$/);
    expect(retried).toMatchObject({ recipientHashes: [none], attempt: 2, spoolId: spooled.spoolId });
    expect(retried.upstream).toMatch(/^451 4\.2\.0 .*mailbox busy \(2\)$/);
    expect(Date.parse(retried.nextAttemptAt)).toBeGreaterThan(Date.parse(retried.at) - 1000);
    expect(bounced).toMatchObject({ recipientHashes: [none], attempt: 3, spoolId: spooled.spoolId, cause: 'permanent', dsn: 'sent', dsnRecipientHash: sender, dsnSpoolId: null });
    expect(bounced.upstream).toMatch(/^550 5\.1\.1 .*no such user$/);

    // the other views agree: --type and --recipient
    const bouncedOnly = JSON.parse(cli(['audit', 'list', '-d', data, '--type', 'bounced', '--format', 'json']).out) as AuditRow[];
    expect(bouncedOnly.map((r) => r.id)).toEqual([bounced.id]);
    const forNone = JSON.parse(cli(['audit', 'list', '-d', data, '--recipient', NONE, '--format', 'json']).out) as AuditRow[];
    expect(forNone.filter((r) => r.type !== 'finding').map((r) => r.type)).toEqual(['spooled', 'retried', 'bounced']);
  });

  it('a spooled copy delivered on retry, and one dropped by an operator, each with its row', async () => {
    const LATE = 'late@example.org';
    let lateAttempts = 0;
    let dropMe = true;
    up.setBehaviour((s) => {
      if (s.stage !== 'rcpt') return 'accept';
      if (s.address === LATE) return ++lateAttempts === 1 ? reply(452, '4.2.2 over quota, try later') : 'accept';
      if (s.address === NONE && dropMe) return reply(451, '4.4.1 greylisted');
      return 'accept';
    });
    // slow retries for the second message, so the operator can drop its entry first
    const relay = await startTestRelay(relayConfig(data, up.port, { spool: { retryInitial: '300ms', retryMax: '300ms' } }));
    closers.push(() => relay.close());

    // message 1: FULL accepted, LATE (no consent, class "") deferred then delivered from the spool
    const first = await send(relay.port, SENDER, [FULL, LATE], MESSAGE);
    expect(first.code).toBe(250);
    const q1 = queueIdOf(first.response);
    await until('the delivery from the spool', () => trail(q1).some((r) => r.type === 'delivered-from-spool'));
    expect(
      trail(q1)
        .filter((r) => r.type !== 'finding')
        .map((r) => [r.type, 'attempt' in r ? r.attempt : null, r.recipientHashes.length]),
    ).toEqual([
      ['relayed', null, 1],
      ['spooled', 1, 1],
      ['delivered-from-spool', 2, 1],
    ]);
    const delivered = trail(q1).find((r) => r.type === 'delivered-from-spool');
    expect(delivered?.recipientHashes).toEqual([await hashOf(LATE)]);
    expect(delivered?.type === 'delivered-from-spool' && delivered.upstream).toMatch(/^250 /);

    // message 2: NONE keeps being greylisted; the operator drops its entry
    const second = await send(relay.port, SENDER, [FULL, NONE], MESSAGE);
    expect(second.code).toBe(250);
    const q2 = queueIdOf(second.response);
    const spooled = trail(q2).find((r) => r.type === 'spooled');
    if (spooled?.type !== 'spooled') throw new Error('no spooled row');
    const drop = cli(['queue', 'drop', spooled.spoolId, '--data-dir', data]);
    expect(drop.status, drop.err).toBe(0);
    dropMe = false;
    const dropped = trail(q2).filter((r) => r.type === 'dropped');
    expect(dropped).toEqual([expect.objectContaining({ type: 'dropped', spoolId: spooled.spoolId, recipientHashes: [await hashOf(NONE)], upstream: '451 4.4.1 greylisted' })]);
    // the upstream would take it now, but a dropped entry is neither delivered nor bounced
    // (an attempt already under way when the drop came may still add its 'retried' row)
    await new Promise((r) => setTimeout(r, 1000));
    expect(up.received.filter((r) => r.to.includes(NONE))).toEqual([]);
    expect(trail(q2).filter((r) => r.type === 'delivered-from-spool' || r.type === 'bounced')).toEqual([]);
  });
});
