/** The configurable part of the policy (config `policy.*`) as it reaches the engine. */
import { describe, expect, it } from 'vitest';
import { rewriteMessage } from '../../src/rewrite/engine.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../../src/rewrite/types.js';
import { decodedText } from '../helpers/mime.js';

const rules = loadRules();
const LINK = 'https://www.example.com/sale?utm_source=newsletter&utm_campaign=black-friday&mc_eid=4f2a9c1e7b';

function message(extraHeaders = ''): Buffer {
  return Buffer.from(
    `From: shop@example.com\r\nTo: alice@example.org\r\nSubject: Sale\r\n${extraHeaders}MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p><a href="${LINK.replace(/&/g, '&amp;')}">Sale</a></p>\r\n`,
  );
}

describe('policy.keepCampaignParams', () => {
  it.each([
    [true, 'https://www.example.com/sale?utm_source=newsletter&amp;utm_campaign=black-friday"'],
    [false, 'https://www.example.com/sale"'],
  ])('%s', async (keep, expected) => {
    const r = await rewriteMessage(message(), { consent: NO_CONSENT, rules, recipients: ['alice@example.org'], policy: { keepCampaignParams: keep } });
    const text = await decodedText(r.output);
    expect(text).toContain(expected);
    expect(text).not.toContain('mc_eid');
  });
});

describe('policy.readReceipts', () => {
  const headers = 'Disposition-Notification-To: shop@example.com\r\nReturn-Receipt-To: shop@example.com\r\n';

  it('keep (default): read-receipt requests stay, the message is unchanged when nothing else is tracked', async () => {
    const raw = Buffer.from(`From: a@example.com\r\nTo: alice@example.org\r\nSubject: x\r\n${headers}MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n`);
    const r = await rewriteMessage(raw, { consent: NO_CONSENT, rules });
    expect(r.changed).toBe(false);
    expect(r.output.equals(raw)).toBe(true);
  });

  it('remove: the requests go for recipients without opens consent; every other header stays as it was', async () => {
    const raw = message(headers);
    const r = await rewriteMessage(raw, { consent: NO_CONSENT, rules, policy: { readReceipts: 'remove' } });
    const head = r.output.toString('latin1').split('\r\n\r\n')[0]!;
    expect(head).not.toMatch(/Disposition-Notification-To|Return-Receipt-To/i);
    expect(head).toBe(raw.toString('latin1').split('\r\n\r\n')[0]!.replace(headers, ''));
    expect(r.findings.filter((f) => f.technique === 'read-receipt').map((f) => f.action)).toEqual(['remove-header', 'remove-header']);
  });

  it('remove: kept for a recipient with opens consent', async () => {
    const raw = message(headers);
    const r = await rewriteMessage(raw, { consent: { opens: true, clicks: false }, rules, policy: { readReceipts: 'remove' } });
    expect(r.output.toString('latin1')).toContain('Disposition-Notification-To');
  });
});
