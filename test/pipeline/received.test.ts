/** The Received: header as a function of the session: syntax (RFC 5321 4.4), privacy, sanitising. */
import { describe, expect, it } from 'vitest';
import { addressLiteral, heloName, protocol, receivedHeader, type TraceInfo } from '../../src/pipeline/received.js';

const AT = new Date('2026-11-30T02:05:09Z');
const BASE: TraceInfo = { helo: 'client.example', clientAddress: '127.0.0.1', by: 'relay.example', esmtp: true, tls: false, at: AT };

describe('receivedHeader', () => {
  it('one recipient: from, by, with, id, for and the date, folded with CRLF TAB', () => {
    expect(receivedHeader(BASE, 'Q1-x_2', 'alice@example.org')).toBe(
      'Received: from client.example ([127.0.0.1])\r\n\tby relay.example (consent-relay) with ESMTP id Q1-x_2\r\n\tfor <alice@example.org>; Mon, 30 Nov 2026 02:05:09 +0000\r\n',
    );
  });

  it('several recipients: no for clause (naming one to the others would disclose Bcc)', () => {
    expect(receivedHeader(BASE, 'Q1', null)).toBe('Received: from client.example ([127.0.0.1])\r\n\tby relay.example (consent-relay) with ESMTP id Q1; Mon, 30 Nov 2026 02:05:09 +0000\r\n');
  });

  it('a recipient that cannot be written inside <...> as it is is left out', () => {
    for (const odd of ['"john doe"@example.org', 'b\u00fcro@example.org', 'a>b@example.org']) expect(receivedHeader(BASE, 'Q1', odd)).not.toContain('for <');
  });

  it('every line ends in CRLF, continuation lines start with a tab, and no line is long', () => {
    const h = receivedHeader({ ...BASE, helo: 'x'.repeat(300) }, 'Q1', 'alice@example.org');
    const lines = h.split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(1, -1).every((l) => l.startsWith('\t'))).toBe(true);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(998);
    expect(/\r(?!\n)|(?<!\r)\n/.test(h)).toBe(false);
  });
});

describe('parts of the header', () => {
  it('protocol names follow RFC 3848', () => {
    expect(protocol({ esmtp: true, tls: false })).toBe('ESMTP');
    expect(protocol({ esmtp: true, tls: true })).toBe('ESMTPS');
    expect(protocol({ esmtp: true, tls: false, auth: { user: 'u' } })).toBe('ESMTPA');
    expect(protocol({ esmtp: true, tls: true, auth: { user: 'u' } })).toBe('ESMTPSA');
    expect(protocol({ esmtp: false, tls: false })).toBe('SMTP');
  });

  it('an authenticated session says so in the protocol and names the login (Postfix: Authenticated sender)', () => {
    const h = receivedHeader({ ...BASE, auth: { user: 'jdoe' } }, 'Q1', null);
    expect(h).toContain('with ESMTPA id Q1');
    expect(h).toMatch(/^Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n\t\(Authenticated sender: jdoe\)\r\n\tby /);
    // a login cannot end the comment or the field early
    expect(receivedHeader({ ...BASE, auth: { user: 'x)\r\nX-Forged: 1' } }, 'Q1', null)).toContain('(Authenticated sender: x???X-Forged??1)');
  });

  it('client addresses become RFC 5321 address literals', () => {
    expect(addressLiteral('127.0.0.1')).toBe('[127.0.0.1]');
    expect(addressLiteral('::ffff:127.0.0.1')).toBe('[127.0.0.1]');
    expect(addressLiteral('::1')).toBe('[IPv6:::1]');
    expect(addressLiteral('fe80::1%eth0')).toBe('');
    expect(receivedHeader({ ...BASE, clientAddress: '' }, 'Q1', null)).toMatch(/^Received: from client\.example\r\n\tby /);
  });

  it('HELO names: host names and address literals as given, anything else reduced to safe characters', () => {
    expect(heloName('DESKTOP-AB12_CD')).toBe('DESKTOP-AB12_CD');
    expect(heloName('[127.0.0.1]')).toBe('[127.0.0.1]');
    expect(heloName('[IPv6:::1]')).toBe('[IPv6:::1]');
    expect(heloName('')).toBe('unknown');
    expect(heloName('a\r\nX-Injected: yes')).toBe('a??X-Injected??yes');
    expect(heloName('[1.2.3.4]\r\nX: y')).toBe('?1.2.3.4???X??y');
    expect(heloName('h(\u00e9);<x>')).toBe('h?????x?');
  });

  it('the relay name and the queue id are reduced the same way', () => {
    const h = receivedHeader({ ...BASE, by: 'relay example\r\nX: 1' }, 'id;\r\nX', null);
    expect(h).toContain('by relay?example??X??1 (consent-relay) with ESMTP id idX;');
    expect(h.split('\r\n').filter((l) => /^\S/.test(l))).toHaveLength(1);
  });
});
