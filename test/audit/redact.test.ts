import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { redactText, redactUrl } from '../../src/audit/redact.js';

// input → what the audit log may keep
const CASES: [string, string, string][] = [
  ['Mailchimp open pixel', 'https://example.us1.list-manage.com/track/open.php?u=abc123&id=def456&e=0123456789', 'https://example.us1.list-manage.com/track/open.php?…'],
  ['Mailchimp click', 'https://example.us1.list-manage.com/track/click?u=9f8e7d6c5b4a&id=1a2b3c4d5e&e=ab12cd34ef', 'https://example.us1.list-manage.com/track/click?…'],
  [
    'HubSpot click',
    'https://d2v8tf04.na1.hubspotlinks.com/Ctc/DM+113/d2v8Tf04/VWfQ8T5VW1wKW2l9yd15bqgvfW2Xx4Gb56lh5_N5G0HDj5nXHsW3q3n/3/f18dQhb0S7kC8dDMPbW2n0x6l2B9nMJW7t5XZs4WJfgqW',
    'https://d2v8tf04.na1.hubspotlinks.com/Ctc/DM+113/*/*/*/*',
  ],
  ['HubSpot open', 'https://t.hubspotemail.net/e1t/o/5/f18dQhb0S7kC8dDMPbW2n0x6l2B9nMJW7t5XZs4WJfgqW/open.gif', 'https://t.hubspotemail.net/e1t/o/*/*/open.gif'],
  ['HubSpot pixel with address in query', 'https://track.hubspot.com/__ptq.gif?a=123&k=14&r=bob%40example.com', 'https://track.hubspot.com/__ptq.gif?…'],
  [
    'SES click (encoded destination with double-encoded address)',
    'https://a1b2c3d4.r.us-east-1.awstrack.me/L0/https:%2F%2Fexample.com%2Foffer%3Fuser%3Dbob%2540example.com/1/0100018f0e8c1d2e-3a4b5c6d-7e8f-4a9b-8c7d-6e5f4a3b2c1d-000000/AbCdEfGhIjKlMnOpQrStUvWxYz0=',
    'https://*.r.us-east-1.awstrack.me/L0/*/*/*/*',
  ],
  ['SES open', 'https://a1b2c3d4.r.us-east-1.awstrack.me/I0/0100018f0e8c1d2e-3a4b5c6d-7e8f-4a9b-8c7d-6e5f4a3b2c1d-000000/Xk2Lp9Qr', 'https://*.r.us-east-1.awstrack.me/I0/*/*'],
  ['Yesware pixel', 'https://t.yesware.com/tt/8f3c2a1b9d4e5f60718293a4b5c6d7e8f9a0b1c2/5d41402abc4b2a76b9719d911017c592/ab.gif', 'https://t.yesware.com/tt/*/*/ab.gif'],
  ['Yesware link', 'https://t.yesware.com/tl/8f3c2a1b9d4e5f60718293a4b5c6d7e8f9a0b1c2/5d41402abc4b2a76b9719d911017c592/0?ytl=https%3A%2F%2Fexample.com%2F', 'https://t.yesware.com/tl/*/*/*?…'],
  ['SendGrid click', 'https://u1234567.ct.sendgrid.net/ls/click?upn=abc-123', 'https://*.ct.sendgrid.net/ls/click?…'],
  ['address in the path', 'https://click.example.com/u/bob.smith@example.com/x', 'https://click.example.com/u/*/x'],
  ['encoded address in the path', 'https://click.example.com/u/bob%40example.com/x', 'https://click.example.com/u/*/x'],
  ['uuid', 'https://example.com/o/123e4567-e89b-12d3-a456-426614174000.png', 'https://example.com/o/*.png'],
  ['hex pixel with extension', '//cdn.example.com/p/3f9a0b1c2d3e4f50.png', '//cdn.example.com/p/*.png'],
  ['digits', 'https://example.com/news/2024/10/article', 'https://example.com/news/*/*/article'],
  ['user info is dropped', 'https://bob:secret@host.example/a#frag', 'https://host.example/a'],
  ['fragment is dropped', 'https://example.com/page#token=abc', 'https://example.com/page'],
  ['empty query still marked', 'https://example.com/page?', 'https://example.com/page?…'],
  ['port kept', 'http://example.com:8080/x', 'http://example.com:8080/x'],
  ['readable slug kept', 'https://example.com/unsubscribe-preferences/', 'https://example.com/unsubscribe-preferences/'],
  ['mixed slug of 16+ chars starred', 'https://example.com/weekly-newsletter-2024', 'https://example.com/*'],
  ['matrix parameters', 'https://example.com/a;jsessionid=XYZ/b', 'https://example.com/*/b'],
  ['mailto', 'mailto:bob@example.com?subject=hi', 'mailto:*'],
  ['IP host', 'http://192.0.2.10/o/9f8e7d6c5b4a39281726', 'http://192.0.2.10/o/*'],
  ['not a URL', 'not a url', '(unparseable url)'],
];

describe('redactUrl', () => {
  it.each(CASES)('%s', (_name, input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it.each(CASES)('is idempotent: %s', (_name, input) => {
    const once = redactUrl(input);
    expect(redactUrl(once)).toBe(once);
  });

  it.each(CASES)('leaks no address or token: %s', (_name, input) => {
    const out = redactUrl(input);
    expect(out).not.toMatch(/@|%40|bob|secret|token|[0-9a-f]{12}/i);
  });

  it('never lets an address through, wherever it is put', () => {
    const local = fc.stringMatching(/^[a-z][a-z0-9._+-]{0,15}$/);
    const domain = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}\.(com|org|example)$/);
    const encode = fc.constantFrom(
      (s: string) => s,
      (s: string) => encodeURIComponent(s),
      (s: string) => encodeURIComponent(encodeURIComponent(s)),
      (s: string) => s.replace('@', '%40'),
    );
    const where = fc.constantFrom(
      (a: string) => `https://t.example.net/c/${a}`,
      (a: string) => `https://t.example.net/${a}/open.gif`,
      (a: string) => `https://t.example.net/x?e=${a}`,
      (a: string) => `https://t.example.net/x#${a}`,
      (a: string) => `https://${a}/x`,
      (a: string) => `mailto:${a}`,
    );
    fc.assert(
      fc.property(local, domain, encode, where, (l, d, enc, place) => {
        const out = redactUrl(place(enc(`${l}@${d}`)));
        expect(out).not.toContain('@');
        expect(out.toLowerCase()).not.toContain('%40');
        expect(out).not.toContain(`${l}@`);
      }),
    );
  });

  it('stars every long token, whatever its alphabet', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{24,60}$/), (token) => {
        fc.pre(/[0-9]/.test(token) || /[A-Z]/.test(token));
        expect(redactUrl(`https://t.example.net/c/${token}`)).toBe('https://t.example.net/c/*');
      }),
    );
  });
});

describe('redactText', () => {
  it.each([
    ['550 5.1.1 <bob@example.com>: Recipient address rejected', '550 5.1.1 <<redacted address>>: Recipient address rejected'],
    ['RCPT TO:bob@example.com refused', 'RCPT TO:<redacted address> refused'],
    ['250 2.0.0 Ok: queued as 4Xyz1', '250 2.0.0 Ok: queued as 4Xyz1'],
  ])('%j', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });
});
