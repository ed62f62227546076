/**
 * Two Content-Type or Content-Transfer-Encoding fields in one part are refused only when clients
 * could read them differently: spellings that mean the same (spacing, case, "7bit"/"7-bit") agree.
 */
import { describe, expect, it } from 'vitest';
import { rewriteMessage } from '../../src/rewrite/engine.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../../src/rewrite/types.js';

const rules = loadRules();
const PIXEL = '<img src="https://mandrillapp.com/track/open.php?u=1234567&id=abcdef0123456789" width="1" height="1">';

function message(fields: string): Buffer {
  return Buffer.from(`From: a@example.com\r\nTo: alice@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\n${fields}\r\n<p>Hello</p>${PIXEL}\r\n`, 'latin1');
}

describe('duplicate MIME fields', () => {
  it.each([['Content-Type: text/html; charset=utf-8\r\nContent-type:TEXT/HTML\r\n'], ['Content-Type: text/html\r\nContent-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding:7-bit\r\n']])(
    'that agree are read, and the tracker removed: %j',
    async (fields) => {
      const r = await rewriteMessage(message(fields), { consent: NO_CONSENT, rules });
      expect(r.findings.map((f) => f.technique)).toContain('img');
      expect(r.output.toString('latin1')).not.toContain('mandrillapp.com');
    },
  );

  it.each([
    ['Content-Type: text/html\r\nContent-Type: text/plain\r\n', /conflicting Content-Type/],
    ['Content-Type: text/html\r\nContent-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n', /conflicting Content-Transfer-Encoding/],
  ])('that disagree are refused: %j', async (fields, reason) => {
    await expect(rewriteMessage(message(fields), { consent: NO_CONSENT, rules })).rejects.toMatchObject({ code: 'MIME_MALFORMED', message: expect.stringMatching(reason) });
  });
});
