/**
 * The message-level link signals (src/rewrite/analysis/: redirectors, destinations, shared-tokens),
 * each on a minimal message run through the whole engine: what it must catch, and the look-alikes
 * (shop product links, document links, short links, CDN files, share buttons, list archives,
 * campaign ids) that must pass unchanged.
 */
import { describe, expect, it } from 'vitest';
import { rewriteMessage } from '../../../src/rewrite/engine.js';
import { loadRules } from '../../../src/rewrite/rules/index.js';
import { NO_CONSENT, type Finding } from '../../../src/rewrite/types.js';
import { isOpaque, valueShape } from '../../../src/rewrite/analysis/url-shape.js';
import { redactUrl } from '../../../src/audit/redact.js';

const rules = await loadRules();

function eml(html: string, headers = ''): Buffer {
  return Buffer.from(
    `From: News <news@brand.example>\r\nTo: alice@example.org\r\nSubject: Test\r\nMessage-ID: <t@brand.example>\r\n${headers}MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<html><body>\r\n${html}\r\n</body></html>\r\n`,
  );
}

async function run(html: string, headers = ''): Promise<{ out: string; findings: Finding[]; changed: boolean }> {
  const r = await rewriteMessage(eml(html, headers), { consent: NO_CONSENT, rules, recipients: ['alice@example.org'] });
  return { out: r.output.toString('utf8'), findings: r.findings, changed: r.changed };
}

const a = (href: string, text = 'Read more'): string => `<p><a href="${href.replace(/&/g, '&amp;')}">${text}</a></p>`;
const b64url = (s: string): string => Buffer.from(s).toString('base64url');

describe('opaque values', () => {
  it.each([
    ['a8f3c9e1b2d4f5a6', 'opaque'],
    ['Xk9QzP3mW7vL2nR8', 'opaque'],
    ['dQw4w9WgXcQabc', 'opaque'],
    ['alice@example.org', 'opaque'],
    ['summer-sale-2026', 'word'],
    ['blue-summer-dress', 'word'],
    ['the_2026_guide_to_tea', 'word'],
    ['index.html', 'word'],
    ['Newsletter', 'word'],
    ['12345678', 'number'],
    ['abc', 'word'],
  ])('%s is %s', (v, shape) => {
    expect(valueShape(v)).toBe(shape);
  });
  it('a hashed file name is a token, a named one is not', () => {
    expect(isOpaque('3f9a8b7c6d5e4f3a2b1c.jpg')).toBe(true);
    expect(isOpaque('product-photo-large.jpg')).toBe(false);
  });
});

describe('redirector templates (heuristic.redirector)', () => {
  const tokens = ['Kq8ZrT2vXy7bWm4N', 'Lp3sVd9QeJ6uHc1G', 'Mz5xNa7RfK2oYt8P', 'Qw4eRt6yUi8oPa2S'];

  it('Episerver-like news.<brand>/go/<token>?ecmUid=…: every link neutralised, the note names the template and no token', async () => {
    const html = tokens.map((t, i) => a(`https://news.brand.example/go/${t}?ecmUid=u7Hh3Kk9Pp2Qq5Rr&pos=${i}`, `Article ${i}`)).join('\n');
    const r = await run(html);
    const hits = r.findings.filter((f) => f.ruleId === 'heuristic.redirector');
    expect(hits).toHaveLength(4);
    for (const f of hits) {
      expect(f.action).toBe('neutralise-link');
      expect(f.note).toMatch(/4 links share the template news\.brand\.example\/go\/\*/);
      for (const t of [...tokens, 'u7Hh3Kk9Pp2Qq5Rr']) expect(f.note).not.toContain(t);
    }
    for (const t of tokens) expect(r.out).not.toContain(t);
    expect(r.out).toContain('Article 2');
  });

  it('artegic-like epost.<brand>/go/<token>/<n>, Brevo-like r.<brand>/tr/cl/<token>, Inxmail-like newsletter.<brand>/d?<token>, SendGrid /ss/c/ on a branded host', async () => {
    const html = [
      ...tokens.slice(0, 3).map((t, i) => a(`https://epost.brand.example/go/${t}/${i + 1}`)),
      ...tokens.slice(0, 3).map((t) => a(`https://r.shop.example/tr/cl/${t}${t}`)),
      ...tokens.slice(0, 3).map((t) => a(`https://newsletter.verlag.example/d?${t.toLowerCase()}9x`)),
      ...tokens.slice(0, 3).map((t) => a(`https://url4821.store.example/ss/c/${t}-${t}/4k2/${t.slice(0, 12)}/h001`)),
    ].join('\n');
    const r = await run(html);
    expect(r.findings.filter((f) => f.ruleId === 'heuristic.redirector' && f.action === 'neutralise-link')).toHaveLength(12);
  });

  it('CleverReach-like …/c/<n>/<recipient>: numbers vary, the recipient token is constant', async () => {
    const html = [11111, 22222, 33333].map((n) => a(`https://mailing.brand.example/c/${n}/5c0d4a1a2b3e4f9d`)).join('\n');
    const r = await run(html);
    expect(r.findings.filter((f) => f.ruleId === 'heuristic.redirector')).toHaveLength(3);
    expect(r.out).not.toContain('5c0d4a1a2b3e4f9d');
  });

  it('Sailthru-like link.<brand>/click/<id>/<base64 destination>/<hash>: unwrapped offline to the destination, checked http(s)', async () => {
    const dests = ['https://www.brand.example/story/one', 'https://www.brand.example/story/two?ref=nl', 'https://shop.example/item/three'];
    const html =
      dests.map((d, i) => a(`https://link.brand.example/click/${40000 + i}.${i}/${b64url(d)}/5a6b7c8d9e0f1a2b${i}`)).join('\n') +
      a(`https://link.brand.example/click/40009.9/${b64url('javascript:alert(1)')}/5a6b7c8d9e0f1a2b9`);
    const r = await run(html);
    const unwrapped = r.findings.filter((f) => f.ruleId === 'heuristic.redirector' && f.action === 'unwrap-link');
    expect(unwrapped.map((f) => f.replacement).sort()).toEqual([...dests].sort());
    for (const d of dests) expect(r.out).toContain(`href="${d}"`);
    expect(r.out).not.toContain('javascript');
    expect(r.findings.filter((f) => f.action === 'neutralise-link')).toHaveLength(1);
  });

  it('the unsubscribe link through the same redirector keeps working (by List-Unsubscribe and by wording)', async () => {
    const unsub = `https://news.brand.example/go/${tokens[3]}`;
    const html = [
      ...tokens.slice(0, 3).map((t) => a(`https://news.brand.example/go/${t}`)),
      a(unsub, 'Newsletter abbestellen'),
      a('https://news.brand.example/go/Zz9Yy8Xx7Ww6Vv5U', 'Se désinscrire'),
    ].join('\n');
    const r = await run(html, `List-Unsubscribe: <${unsub}>\r\n`);
    expect(r.out).toContain(`href="${unsub}"`);
    expect(r.out).toContain('href="https://news.brand.example/go/Zz9Yy8Xx7Ww6Vv5U"');
    expect(r.findings.filter((f) => f.action === 'neutralise-link')).toHaveLength(3);
  });

  it('look-alikes stay: shop products, numbered articles, documents, short video links, CDN files, a list archive', async () => {
    const html = [
      ...['blue-summer-dress', 'red-wool-scarf', 'linen-shirt-white', 'canvas-tote-bag'].map((s, i) => a(`https://shop.example/products/${s}?variant=4412345678${i}`)),
      ...[123456, 123457, 123458].map((n) => a(`https://www.paper.example/p/${n}`)),
      ...['1AbCdEfGhIjKlMnOpQrStUvWxYz012345678', '1ZyXwVuTsRqPoNmLkJiHgFeDcBa98765432', '1QwErTyUiOpAsDfGhJkLzXcVbNm1234567'].map((d) => a(`https://docs.google.com/document/d/${d}/edit`)),
      ...['dQw4w9WgXcQ', 'kJQP7kiw5Fk', '9bZkp7q19f0'].map((v) => a(`https://youtu.be/${v}`)),
      ...['3f9a8b7c6d5e4f3a2b1c', '9e8d7c6b5a4f3e2d1c0b', '1a2b3c4d5e6f7a8b9c0d'].map((h) =>
        a(`https://cdn.shop.example/files/${h}.jpg`, `<img src="https://cdn.shop.example/files/${h}.jpg" width="300" height="200">`),
      ),
      a('https://lists.example.org/archives/list/dev@lists.example.org/message/CAF8kQ3mZx9Yt2Lw7Rb4Hn6Jp1Vc5Ds0Ge3@mail.example.com/', 'the thread'),
      a('https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fwww.brand.example%2Fstory%2Fone', 'Share'),
    ].join('\n');
    const r = await run(html);
    expect(r.findings).toEqual([]);
    expect(r.changed).toBe(false);
  });
});

describe('carried destinations (heuristic.carried-destination)', () => {
  it('a single redirect with the destination in a query value or in the path is unwrapped; a share button is not', async () => {
    const html = [
      a('https://click.brand.example/r?u=https%3A%2F%2Fshop.example%2Fsale%3Fcolour%3Dred&sig=Hx7Kq2Lm9Pz4Rt6W'),
      a('https://www.brand.example/out/https://partner.example/offer'),
      a('https://twitter.com/intent/tweet?url=https%3A%2F%2Fwww.brand.example%2Fstory', 'Tweet'),
      a('https://www.brand.example/search?next=https%3A%2F%2Fwww.brand.example%2Fa', 'Search'),
    ].join('\n');
    const r = await run(html);
    expect(r.findings.map((f) => [f.ruleId, f.action, f.replacement])).toEqual([
      ['heuristic.carried-destination', 'unwrap-link', 'https://shop.example/sale?colour=red'],
      ['heuristic.carried-destination', 'unwrap-link', 'https://partner.example/offer'],
    ]);
    expect(r.findings[0]!.note).toMatch(/redirect path|mail-system host|opaque/);
  });
});

describe('link text naming another site (heuristic.text-names-other-site)', () => {
  it('text that is a URL on another site: the link goes there; a named site with an opaque href: neutralised', async () => {
    const html = [a('https://t.sender.example/x/Ab3dEf9GhJkL2mNq', 'www.other-shop.example/sale'), a('https://t.sender.example/y/Zx8Cv7Bn6Mq5Wr4T', 'Visit partner.example today')].join('\n');
    const r = await run(html);
    expect(r.findings.map((f) => [f.ruleId, f.action, f.replacement])).toEqual([
      ['heuristic.text-names-other-site', 'unwrap-link', 'https://www.other-shop.example/sale'],
      ['heuristic.text-names-other-site', 'neutralise-link', undefined],
    ]);
  });

  it('the same site in text and href, or a href without a token, stays', async () => {
    const html = [a('https://www.brand.example/a/Ab3dEf9GhJkL2mNq', 'brand.example/a'), a('https://x.com/brand', 'twitter.com/brand')].join('\n');
    expect((await run(html)).findings).toEqual([]);
  });
});

describe('shared tokens (heuristic.shared-token)', () => {
  it('Mailchimp-style account and list ids shared by vendor links and the unsubscribe link stay on a direct link', async () => {
    const html = [
      a('https://brand.us3.list-manage.com/track/click?u=5e78d7ef2297cc80842b7591e&id=93b720b585&e=8aca4414f9'),
      a('https://brand.us3.list-manage.com/unsubscribe?u=5e78d7ef2297cc80842b7591e&id=93b720b585&e=8aca4414f9', 'unsubscribe'),
      a('https://brand.us3.list-manage.com/vcard?u=5e78d7ef2297cc80842b7591e&id=93b720b585', 'add us to your address book'),
    ].join('\n');
    const r = await run(html);
    expect(r.out).toContain('https://brand.us3.list-manage.com/vcard?u=5e78d7ef2297cc80842b7591e&amp;id=93b720b585');
  });

  it('an opaque value repeated in links to different destinations is stripped from each; the campaign id and other parameters stay', async () => {
    const html = [
      a('https://www.brand.example/article/tea?token=U8f3kQ9zXw2Lp4Rt&utm_campaign=a1b2c3d4e5&utm_content=hero'),
      a('https://shop.brand.example/cart?token=U8f3kQ9zXw2Lp4Rt&utm_campaign=a1b2c3d4e5&lang=de'),
      a('https://www.brand.example/events?utm_content=Qm9iQ2xpZW50MTIz&utm_campaign=a1b2c3d4e5'),
      a('https://www.brand.example/about?utm_content=Qm9iQ2xpZW50MTIz'),
    ].join('\n');
    const r = await run(html);
    expect(r.findings.map((f) => [f.ruleId, f.action, f.replacement])).toEqual([
      ['heuristic.shared-token', 'strip-params', 'https://www.brand.example/article/tea?utm_campaign=a1b2c3d4e5&utm_content=hero'],
      ['heuristic.shared-token', 'strip-params', 'https://shop.brand.example/cart?utm_campaign=a1b2c3d4e5&lang=de'],
      // an identifying utm_content value: the campaign-parameter rule (the exact layer) already strips it
      ['param.utm_*', 'strip-params', 'https://www.brand.example/events?utm_campaign=a1b2c3d4e5'],
      ['param.utm_*', 'strip-params', 'https://www.brand.example/about'],
    ]);
    for (const f of r.findings) {
      expect(f.note ?? '').not.toContain('U8f3kQ9zXw2Lp4Rt');
      expect(redactUrl(f.url)).not.toContain('U8f3kQ9zXw2Lp4Rt');
    }
  });

  it('a value in one destination only (a document id twice) stays; a password reset is never touched, nor counted as a second destination', async () => {
    const html = [
      a('https://docs.example/view?doc=Hx7Kq2Lm9Pz4Rt6W', 'Open'),
      a('https://docs.example/view?doc=Hx7Kq2Lm9Pz4Rt6W', 'Open again'),
      a('https://app.example/reset-password?token=Pq9Wm2Xz7Lk4Jh6G', 'Reset'),
      a('https://app.example/help?token=Pq9Wm2Xz7Lk4Jh6G', 'Help'),
    ].join('\n');
    const r = await run(html);
    expect(r.findings).toEqual([]);
    expect(r.out).toContain('https://app.example/reset-password?token=Pq9Wm2Xz7Lk4Jh6G');
  });
});

describe('links the recipient needs (needed-links, multilingual wording)', () => {
  const tokens = ['Kq8ZrT2vXy7bWm4N', 'Lp3sVd9QeJ6uHc1G', 'Mz5xNa7RfK2oYt8P'];
  it.each([['Newsletter abbestellen'], ['Zur Webseitenansicht'], ['Benutzerprofil ändern'], ['Se désabonner'], ['Darse de baja'], ['Uitschrijven'], ['Wypisz się'], ['配信停止'], ['退订']])(
    'a redirector link worded %j is kept, and so is its plain-text copy with other parameters',
    async (wording) => {
      const unsub = 'https://newsletter.verlag.example/d?zz9yy8xx7ww6vv5uu4';
      const html = [...tokens.map((t) => a(`https://newsletter.verlag.example/d?${t.toLowerCase()}9x`)), a(`${unsub}&utm_source=nl`, wording)].join('\n');
      const text = `Hinweis: ${unsub}\r\n`;
      const raw = Buffer.from(
        `From: n@verlag.example\r\nTo: alice@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${html}\r\n--b--\r\n`,
      );
      const r = await rewriteMessage(raw, { consent: NO_CONSENT, rules, recipients: ['alice@example.org'] });
      const out = r.output.toString('utf8');
      expect(out).toContain(`href="${unsub}&amp;utm_source=nl"`);
      expect(out).toContain(`Hinweis: ${unsub}`);
      expect(r.findings.filter((f) => f.action === 'neutralise-link')).toHaveLength(3);
    },
  );
});
