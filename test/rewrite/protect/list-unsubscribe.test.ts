/**
 * The List-Unsubscribe header names the sender's unsubscribe endpoint: a body link to it is kept
 * as written, also with another query, unless the endpoint is a redirector the body sends other
 * links through.
 */
import { describe, expect, it } from 'vitest';
import { rewriteMessage } from '../../../src/rewrite/engine.js';
import { loadRules } from '../../../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../../../src/rewrite/types.js';
import { decodedText } from '../../helpers/mime.js';

const rules = loadRules();

function message(header: string, links: readonly string[]): Buffer {
  const body = links.map((l, i) => `<p><a href="${l.replace(/&/g, '&amp;')}">hier ${i}</a></p>`).join('\r\n');
  return Buffer.from(
    `From: news@news.example.com\r\nTo: alice@example.org\r\nSubject: News\r\nList-Unsubscribe: <${header}>, <mailto:u@news.example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>${body}</body></html>\r\n`,
  );
}

async function run(header: string, links: readonly string[]): Promise<string> {
  const r = await rewriteMessage(message(header, links), { consent: NO_CONSENT, rules, recipients: ['alice@example.org'] });
  return decodedText(r.output);
}

describe('List-Unsubscribe endpoint', () => {
  it('keeps a body link to the same endpoint with another query, recipient and all', async () => {
    const link = 'https://news.example.com/x/k7?u=alice%40example.org&src=footer';
    const out = await run('https://news.example.com/x/k7?u=alice%40example.org', [link, 'https://shop.example.com/p?email=alice%40example.org']);
    expect(out).toContain(`href="${link.replace(/&/g, '&amp;')}"`);
    expect(out).toContain('href="https://shop.example.com/p"');
  });

  it('does not protect other links through a redirector the header happens to use', async () => {
    const out = await run('https://t.example.net/r?u=alice%40example.org&a=unsub', [
      'https://t.example.net/r?u=alice%40example.org&a=1',
      'https://t.example.net/r?u=alice%40example.org&a=2',
      'https://t.example.net/r?u=alice%40example.org&a=3',
    ]);
    expect(out).not.toContain('alice%40example.org');
  });
});
