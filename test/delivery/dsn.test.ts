import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';

import { buildDsn, extractHeaders } from '../../src/delivery/dsn.js';

const ORIGINAL = Buffer.from('From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: quarterly numbers\r\nMessage-ID: <orig-1@example.com>\r\n\r\nsecret body\r\n');

/** Content-Type of each part of a one-level multipart message. */
function partTypes(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  const boundary = /boundary="([^"]+)"/.exec(text)?.[1] ?? '';
  return text
    .split(`\r\n--${boundary}`)
    .slice(1, -1)
    .map((part) => /^Content-Type: ([^;\r\n]+)/im.exec(part)?.[1] ?? '?');
}

function build(): Buffer {
  return buildDsn({
    reportingMta: 'relay.example.net',
    originalEnvelope: { from: 'alice@example.com', to: ['bob@example.org', 'carol@example.org'] },
    failures: [
      { recipient: 'bob@example.org', code: 550, response: '550 5.1.1 <bob@example.org>: user unknown', temporary: false },
      { recipient: 'carol@example.org', code: 451, response: '451 4.4.1 upstream unreachable: ECONNREFUSED', temporary: true },
    ],
    originalHeaders: extractHeaders(ORIGINAL),
    arrivalDate: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)),
    date: new Date(Date.UTC(2030, 0, 7, 3, 4, 5)),
    boundary: 'b1',
  });
}

describe('buildDsn', () => {
  it('is an RFC 3464 multipart/report that mailparser reads', async () => {
    const raw = build();
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value[0]?.address).toBe('MAILER-DAEMON@relay.example.net');
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0]?.address : null).toBe('alice@example.com');
    expect(parsed.headers.get('content-type')).toMatchObject({
      value: 'multipart/report',
      params: { 'report-type': 'delivery-status', boundary: 'b1' },
    });
    expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(parsed.text).toContain('<bob@example.org>: 550 5.1.1 <bob@example.org>: user unknown');

    // mailparser reads message/delivery-status as an inline text part: its fields end up in `text`.
    const status = parsed.text ?? '';
    expect(status).toContain('Reporting-MTA: dns; relay.example.net\n');
    expect(status).toContain('Arrival-Date: Wed, 02 Jan 2030 03:04:05 +0000\n');
    expect(status).toContain('Final-Recipient: rfc822; bob@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: user unknown\n');
    expect(status).toContain('Final-Recipient: rfc822; carol@example.org\nAction: failed\nStatus: 4.4.1\n');
    // ...so check the MIME structure itself too: three parts, in RFC 3464 order.
    expect(partTypes(raw)).toEqual(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);

    const byType = new Map(parsed.attachments.map((a) => [a.contentType, a.content.toString('utf8')]));
    const headers = byType.get('text/rfc822-headers');
    expect(headers).toContain('Subject: quarterly numbers\r\n');
    expect(headers).toContain('Message-ID: <orig-1@example.com>');
    expect(raw.toString()).not.toContain('secret body');
  });

  it('uses CRLF line endings only', () => {
    const raw = build().toString('latin1');
    expect(raw).not.toMatch(/[^\r]\n/);
    expect(raw).not.toMatch(/\r(?!\n)/);
    expect(raw.endsWith('--b1--\r\n')).toBe(true);
  });

  it('derives a status from the reply class when the upstream gave no enhanced code', async () => {
    const raw = buildDsn({
      reportingMta: 'relay.example.net',
      originalEnvelope: { from: 'a@example.com', to: ['x@example.org', 'y@example.org'] },
      failures: [
        { recipient: 'x@example.org', code: 554, response: '554 no', temporary: false },
        { recipient: 'y@example.org', code: 450, response: '450 later', temporary: true },
      ],
      originalHeaders: Buffer.from('Subject: s\n'),
      arrivalDate: new Date(0),
    });
    const parsed = await simpleParser(raw);
    expect(parsed.text).toMatch(/Final-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5\.0\.0\n/);
    expect(parsed.text).toMatch(/Final-Recipient: rfc822; y@example.org\nAction: failed\nStatus: 4\.4\.7\n/);
  });

  it('extractHeaders stops at the first empty line', () => {
    expect(extractHeaders(ORIGINAL).toString()).toBe('From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: quarterly numbers\r\nMessage-ID: <orig-1@example.com>\r\n');
    expect(extractHeaders(Buffer.from('A: 1\nB: 2\n\nbody')).toString()).toBe('A: 1\nB: 2\n');
  });
});
