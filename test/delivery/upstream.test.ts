import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { SmtpUpstream } from '../../src/delivery/upstream.js';
import type { Copy } from '../../src/delivery/types.js';
import { reply, startUpstream } from '../helpers/upstream.js';
import type { RecordingUpstream } from '../helpers/upstream.js';

const RAW = Buffer.from('From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <m1@example.com>\r\n\r\nhello\r\n');

function copy(to: string[], from = 'a@example.com'): Copy {
  return { consentClass: 'none', envelope: { from, to }, raw: RAW, messageId: '<m1@example.com>' };
}

describe('SmtpUpstream', () => {
  let up: RecordingUpstream;
  let upstream: SmtpUpstream;
  beforeEach(async () => {
    up = await startUpstream();
    upstream = new SmtpUpstream({ host: '127.0.0.1', port: up.port, name: 'relay.test', connectionTimeoutMs: 2000 });
  });
  afterEach(async () => {
    await upstream.close();
    await up.close();
  });

  it('sends the raw bytes with the explicit envelope', async () => {
    const out = await upstream.send(copy(['b@example.org', 'c@example.org']));
    expect(out.accepted).toEqual(['b@example.org', 'c@example.org']);
    expect(out.failed).toEqual([]);
    expect(up.received).toHaveLength(1);
    expect(up.received[0]?.from).toBe('a@example.com');
    expect(up.received[0]?.to).toEqual(['b@example.org', 'c@example.org']);
    expect(up.received[0]?.raw.toString()).toContain('Subject: hi\r\n');
  });

  it('sends the null sender as MAIL FROM:<>', async () => {
    const out = await upstream.send(copy(['b@example.org'], ''));
    expect(out.accepted).toEqual(['b@example.org']);
    expect(up.received[0]?.from).toBe('');
  });

  it('reports a recipient rejected in info.rejected as failed, never accepted', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' && s.address === 'bad@example.org' ? reply(550, '5.1.1 no such user') : 'accept'));
    const out = await upstream.send(copy(['b@example.org', 'bad@example.org']));
    expect(out.accepted).toEqual(['b@example.org']);
    expect(out.failed).toHaveLength(1);
    expect(out.failed[0]).toMatchObject({ recipient: 'bad@example.org', code: 550, temporary: false });
    expect(out.failed[0]?.response).toContain('5.1.1 no such user');
    expect(up.received[0]?.to).toEqual(['b@example.org']);
  });

  it('keeps per-recipient codes when every recipient is rejected', async () => {
    up.setBehaviour((s) => (s.stage === 'rcpt' ? (s.address.startsWith('soft') ? reply(450, '4.2.1 busy') : reply(550, '5.1.1 unknown')) : 'accept'));
    const out = await upstream.send(copy(['soft@example.org', 'hard@example.org']));
    expect(out.accepted).toEqual([]);
    expect(out.failed.map((f) => [f.recipient, f.code, f.temporary])).toEqual([
      ['soft@example.org', 450, true],
      ['hard@example.org', 550, false],
    ]);
  });

  it('fails every recipient with the DATA reply', async () => {
    up.setBehaviour((s) => (s.stage === 'data' ? reply(554, '5.7.1 content rejected') : 'accept'));
    const out = await upstream.send(copy(['b@example.org', 'c@example.org']));
    expect(out.accepted).toEqual([]);
    expect(out.failed.map((f) => f.code)).toEqual([554, 554]);
    expect(out.failed[0]?.response).toContain('5.7.1 content rejected');
  });

  it('reports a refused connection as a temporary 451 4.4.1 for every recipient', async () => {
    await up.down();
    const out = await upstream.send(copy(['b@example.org']));
    expect(out.accepted).toEqual([]);
    expect(out.failed[0]).toMatchObject({ code: 451, temporary: true });
    expect(out.failed[0]?.response).toMatch(/^451 4\.4\.1 /);
    await up.up();
    const again = await upstream.send(copy(['b@example.org']));
    expect(again.accepted).toEqual(['b@example.org']);
  });
});
