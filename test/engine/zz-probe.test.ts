import { it } from 'vitest';
import { rewriteMessage } from '../../src/rewrite/engine.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../../src/rewrite/types.js';
import { message, textPart, img, PIXEL_MAILCHIMP } from '../helpers/build.js';
const rules = loadRules();
async function run(name: string, raw: Buffer) {
  const t = Date.now();
  try {
    const r = await rewriteMessage(raw, { consent: NO_CONSENT, rules });
    console.log(name, 'ok', r.changed, r.findings.length, Date.now() - t, 'ms', r.changed ? '' : '');
    return r;
  } catch (e) { console.log(name, 'ERR', (e as Error).name, (e as { code?: string }).code, (e as Error).message.slice(0, 200), Date.now() - t, 'ms'); }
}
it('probe', async () => {
  for (const n of [1, 2, 3, 4, 5, 6]) await run(`cc nest ${n}`, message(textPart('text/html', '<!--[if mso]>'.repeat(n) + img(PIXEL_MAILCHIMP) + '<![endif]-->'.repeat(n))));
  for (const n of [1, 2, 4, 5]) await run(`cc nest mixed ${n}`, message(textPart('text/html', '<!--[if gte mso 9]><xml>'.repeat(n) + img(PIXEL_MAILCHIMP) + '</xml><![endif]-->'.repeat(n))));
  // duplicate content-type headers
  const dup = Buffer.from(['From: a@example.com', 'To: b@example.org', 'Subject: dup', 'MIME-Version: 1.0', 'Content-Type: text/plain', 'Content-Type: text/html', '', img(PIXEL_MAILCHIMP), ''].join('\r\n'));
  const r = await run('dup ct', dup);
  console.log(r?.output.toString());
  // same boundary reused in nested multipart
  const same = Buffer.from(['From: a@example.com', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="X"', '', '--X', 'Content-Type: multipart/alternative; boundary="X"', '', '--X', 'Content-Type: text/html', '', img(PIXEL_MAILCHIMP), '--X--', '', '--X', 'Content-Type: text/html', '', img(PIXEL_MAILCHIMP), '--X--', ''].join('\r\n'));
  const r2 = await run('same boundary', same);
  console.log(r2?.output.toString());
  // utf-16 BE with BOM labelled utf-16; and no BOM
  const iconv = (await import('iconv-lite')).default;
  const h = `<html><body><p>caf\u00e9</p>${img(PIXEL_MAILCHIMP)}</body></html>`;
  for (const [name, b] of [['be+bom', Buffer.concat([Buffer.from([0xfe, 0xff]), iconv.encode(h, 'utf-16be')])], ['be nobom', iconv.encode(h, 'utf-16be')], ['le+bom', Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(h, 'utf-16le')])], ['le nobom', iconv.encode(h, 'utf-16le')]] as const) {
    const raw = Buffer.from(['From: a@example.com', 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-16', 'Content-Transfer-Encoding: base64', '', b.toString('base64'), ''].join('\r\n'));
    const rr = await run(`utf-16 ${name}`, raw);
    if (rr?.changed) { const body = Buffer.from(rr.output.toString().split('\r\n\r\n')[1]!, 'base64'); console.log(body.subarray(0, 6)); }
  }
  // message/rfc822 deep nesting
  let m = message(textPart('text/html', img(PIXEL_MAILCHIMP)));
  for (let i = 0; i < 200; i++) m = message({ headers: ['Content-Type: message/rfc822', 'Content-Transfer-Encoding: 7bit'], body: m });
  await run('rfc822 x200', m);
  // many rfc822 each with many parts
  const { multipart, messagePart } = await import('../helpers/build.js');
  const inner = message(multipart('mixed', Array.from({ length: 900 }, (_, i) => textPart('text/plain', `p${i}\r\n`)), 'in'));
  const outer = message(multipart('mixed', Array.from({ length: 60 }, () => messagePart(inner)), 'out'));
  console.log('outer size', outer.length);
  await run('60 x 900 parts', outer);
}, 600_000);
