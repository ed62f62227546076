/**
 * The needed-link table (src/rewrite/protect/needed-links.yaml) is data, and so is this test:
 * every phrase of the table, put in a link whose URL is an opaque tracked redirect or carries the
 * recipient, leaves the link exactly as written; ordinary calls to action in the same languages
 * do not protect anything.
 */
import { describe, expect, it } from 'vitest';
import { rewriteMessage } from '../../../src/rewrite/engine.js';
import { REQUIRED_LANGUAGES, compileNeededLinks, foldText, loadNeededLinks } from '../../../src/rewrite/protect/needed-links.js';
import { loadRules } from '../../../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../../../src/rewrite/types.js';
import { decodedText } from '../../helpers/mime.js';

const rules = loadRules();
const table = loadNeededLinks();
const RECIPIENT = 'alice@example.org';
/** A SendGrid click redirect: a known vendor, opaque, neutralised unless the link is needed. */
const OPAQUE = 'https://u1234.ct.sendgrid.net/ls/click?upn=Q7x-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
/** An unknown sender's own link carrying the recipient: its parameter is stripped unless needed. */
const PERSONAL = 'https://news.shop.example/n/p?list=7&uid=alice%40example.org';

function message(text: string, href: string): Buffer {
  const esc = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return Buffer.from(
    'From: news@shop.example\r\nTo: alice@example.org\r\nSubject: News\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
      `<html><body><p>Hello</p><p><a href="${href}">${esc}</a></p></body></html>\r\n`,
    'utf8',
  );
}

async function outcome(text: string, href: string): Promise<{ kept: boolean; actions: string[] }> {
  const r = await rewriteMessage(message(text, href), { consent: NO_CONSENT, rules, recipients: [RECIPIENT] });
  const out = await decodedText(r.output);
  return { kept: out.includes(`href="${href}"`), actions: r.findings.map((f) => f.action) };
}

/** A phrase as a person would write it: the table's folded spelling with its wildcards dropped. */
const spelt = (t: string): string => t.replace(/^\*|\*$/g, '');

describe('the table', () => {
  it('covers unsubscribe, preferences and view-online phrases in every required language', () => {
    for (const lang of REQUIRED_LANGUAGES) {
      for (const kind of ['unsubscribe', 'preferences', 'view-online'] as const) {
        expect(
          table.phrases.some((p) => p.lang === lang && p.kind === kind),
          `${lang} ${kind}`,
        ).toBe(true);
      }
    }
  });

  it('refuses a table that misses a language or has an unknown key or kind', () => {
    expect(() => compileNeededLinks('phrases: [{text: unsubscribe, lang: en, kind: unsubscribe}]\npaths: []\nurls: []\n')).toThrow(/no phrase for de/);
    expect(() => compileNeededLinks('phrases: [{text: unsubscribe, lang: en, kind: leave}]\npaths: []\nurls: []\n')).toThrow(/phrases\.0\.kind/);
    expect(() => compileNeededLinks('phrases: [{text: unsubscribe, lang: en, kind: unsubscribe, colour: red}]\npaths: []\nurls: []\n')).toThrow();
    expect(() => compileNeededLinks('phrases: [{text: unsubscribe, lang: en, kind: unsubscribe}]\npaths: [{word: uns, kind: unsubscribe}]\nurls: []\n')).toThrow(/paths\.0\.word/);
  });
});

describe.each(table.phrases.map((p) => [`${p.lang} "${p.text}"`, p] as const))('%s', (_label, p) => {
  it('keeps an opaque tracked link unmodified', async () => {
    const r = await outcome(spelt(p.text), OPAQUE);
    expect(r.kept).toBe(true);
    expect(r.actions).toEqual(['keep']);
  });

  it('keeps a link carrying the recipient unmodified', async () => {
    const r = await outcome(spelt(p.text), PERSONAL);
    expect(r.kept).toBe(true);
    expect(r.actions).toEqual([]);
  });
});

/** As senders write them: diacritics, capitals, inflections, compounds, punctuation. */
const WRITTEN: readonly (readonly [string, string])[] = [
  ['en', 'Unsubscribe from this list'],
  ['en', 'Manage your email preferences'],
  ['en', 'View this email in your browser'],
  ['de', 'Newsletter abbestellen'],
  ['de', 'Abmelden'],
  ['de', 'Zur Newsletter-Abmeldung'],
  ['de', 'Newsletterabmeldung'],
  ['de', 'Präferenzen'],
  ['de', 'Im Browser öffnen'],
  ['fr', 'Se désabonner'],
  ['fr', 'Désabonnez-vous'],
  ['fr', 'Cliquez ici pour vous désinscrire'],
  ['fr', 'Gérer mes préférences'],
  ['fr', 'Voir la version en ligne'],
  ['es', 'Darse de baja'],
  ['es', 'Haz clic aquí para darte de baja'],
  ['es', 'Cancelar suscripción'],
  ['es', 'Ver en línea'],
  ['it', "Annulla l'iscrizione"],
  ['it', 'Annulla l’iscrizione'],
  ['it', 'Disiscriviti'],
  ['it', 'Visualizza nel browser'],
  ['nl', 'Uitschrijven'],
  ['nl', 'Klik hier om je uit te schrijven of afmelden'],
  ['nl', 'Bekijk online'],
  ['pt', 'Cancelar inscrição'],
  ['pt', 'Descadastre-se'],
  ['pt', 'Gerenciar preferências'],
  ['pt', 'Ver no navegador'],
  ['pl', 'Wypisz się'],
  ['pl', 'Zobacz w przeglądarce'],
  ['pl', 'Zarządzaj subskrypcją'],
  ['sv', 'Avregistrera'],
  ['sv', 'Avsluta prenumerationen'],
  ['sv', 'Ändra inställningar'],
  ['sv', 'Visa i webbläsaren'],
  ['da', 'Afmeld'],
  ['da', 'Afmeld nyhedsbrevet'],
  ['da', 'Åbn i browser'],
  ['da', 'Præferencer'],
  ['no', 'Meld deg av'],
  ['no', 'Åpne i nettleser'],
  ['no', 'Vis i nettleseren'],
  ['fi', 'Peruuta tilaus'],
  ['fi', 'Näytä selaimessa'],
  ['fi', 'Tilausasetukset'],
  ['cs', 'Odhlásit'],
  ['cs', 'Odhlásit odběr'],
  ['cs', 'Zobrazit v prohlížeči'],
  ['ja', '配信停止'],
  ['ja', 'メールの配信停止はこちら'],
  ['ja', 'ブラウザで表示'],
  ['ja', '配信設定の変更'],
  ['zh', '退订'],
  ['zh', '取消订阅'],
  ['zh', '取消訂閱'],
  ['zh', '在浏览器中查看'],
];

describe.each(WRITTEN)('%s "%s" as written', (_lang, text) => {
  it('is recognised and the tracked link kept', async () => {
    expect(table.byText(text)).not.toBeNull();
    expect((await outcome(text, OPAQUE)).kept).toBe(true);
  });
});

/** Calls to action in the same languages, and the "subscribe" words next to "unsubscribe". */
const ORDINARY: readonly string[] = [
  'Shop now',
  'Read more',
  'Subscribe',
  'Sign up',
  'View product',
  'Browse the collection',
  'Jetzt kaufen',
  'Anmelden',
  'Mehr erfahren',
  'Zum Angebot',
  'Acheter',
  "S'abonner",
  'En savoir plus',
  'Voir le produit',
  'Comprar ahora',
  'Suscríbete',
  'Ver más',
  'Acquista ora',
  'Iscriviti',
  'Scopri di più',
  'Nu kopen',
  'Inschrijven',
  'Meer informatie',
  'Comprar agora',
  'Inscreva-se',
  'Saiba mais',
  'Kup teraz',
  'Zapisz się',
  'Dowiedz się więcej',
  'Köp nu',
  'Registrera dig',
  'Läs mer',
  'Køb nu',
  'Tilmeld dig',
  'Læs mere',
  'Kjøp nå',
  'Meld deg på',
  'Les mer',
  'Osta nyt',
  'Tilaa uutiskirje',
  'Lue lisää',
  'Koupit',
  'Přihlásit se k odběru',
  'Více informací',
  '今すぐ購入',
  'メルマガ登録',
  '詳しくはこちら',
  '立即购买',
  '订阅',
  '了解更多',
];

describe.each(ORDINARY.map((t) => [t]))('"%s"', (text) => {
  it('protects nothing: the opaque tracked link is neutralised', async () => {
    expect(table.byText(text)).toBeNull();
    const r = await outcome(text, OPAQUE);
    expect(r.kept).toBe(false);
    expect(r.actions).toEqual(['neutralise-link']);
  });
});

describe('URL words and shapes', () => {
  it.each([
    'https://shop.example.de/newsletter/abmelden?email=alice%40example.org&uid=8f3a9c2e71d4b5a6',
    'https://www.boutique.example.fr/desinscription?u=alice%40example.org',
    'https://tienda.example.es/darse-de-baja?id=99812',
    'https://news.example.com/preferences/center?rid=alice%40example.org',
    'https://us5.campaign-archive.com/?u=abc&id=def',
    'https://www.mail-archive.com/debian-user@lists.debian.org/msg123456.html',
    'https://lists.debian.org/debian-user/2026/11/msg00123.html',
    'https://mail.python.org/pipermail/python-dev/2026-November/123456.html',
    'https://groups.io/g/beta/message/4711',
    'https://marc.info/?l=linux-kernel&m=170123456789012&w=2',
    'https://lore.kernel.org/all/20261129.123456.abcdef@example.org/',
    'https://lists.example.org/mailman/listinfo/users',
  ])('%s', (url) => {
    expect(table.byUrl(url)).not.toBeNull();
  });

  it.each([
    'https://shop.example.com/products/blue-shirt?utm_campaign=2026_11_blackfriday',
    'https://u1234.ct.sendgrid.net/ls/click?upn=Q7x-9f8e7d6c5b4a39281706f5e4d3c2b1a0',
    'https://us5.list-manage.com/track/click?u=abc&id=def',
  ])('%s is not a needed link', (url) => {
    expect(table.byUrl(url)).toBeNull();
  });

  it.each([
    'https://lists.example.org/lists/?p=unsubscribe&uid=5d41402abc4b2a76b9719d911017c592',
    'https://www.example.com/account/notifications?unsubscribe=security-digest',
    'https://www.example.com/index.php?action=optout&list=7',
    'https://app.example.com/#/email-preferences',
  ])('%s names its page in the query or a fragment route: needed', (url) => {
    expect(table.byUrl(url)).not.toBeNull();
  });

  // the page a link opens is read, never what a tracker's query carries beside it
  it.each([
    'https://u1234.ct.sendgrid.net/ls/click?upn=W1x-4b5a39281706f5e4d3c2b1a0&utm_campaign=preferences-week&utm_content=unsubscribe-footer',
    'https://shop.example.com/sale?mtm_campaign=unsubscribe-survey&pk_kwd=optout',
    'https://click.mail.brand.example/c/8f3a9c2e71d4b5a6e0?u=https%3A%2F%2Fshop.brand.example%2Fnewsletter%2Funsubscribe',
    'https://click.mail.brand.example/c/8f3a9c2e71d4b5a6e0?next=%2Faccount%2Fpreferences',
    'https://t.brand.example/r/7?redirect=/login',
    'https://t.brand.example/r/7?to=alice.unsubscribe%40example.org',
    'https://t.brand.example/r/7?token=Unsub7xK9fQ2mZ7pL4vB8nR1tY5w',
  ])('%s: the tracker itself is not a needed page', (url) => {
    expect(table.byUrl(url)).toBeNull();
  });

  it('judges a redirect by the destination it carries, sign-in pages excepted', async () => {
    const { neededLink } = await import('../../../src/rewrite/analysis/needed-links.js');
    const click = (url: string) => ({ kind: 'click' as const, technique: 'tracked-link' as const, url, remove: { start: 0, end: 0 }, removeAction: 'neutralise-link' as const });
    expect(neededLink(click('https://click.mail.brand.example/c/8f3a9c2e71d4b5a6e0?u=https%3A%2F%2Fshop.brand.example%2Fnewsletter%2Funsubscribe'), rules)?.evidence).toBe(
      'destination: URL word "unsub"',
    );
    expect(neededLink(click('https://click.mail.brand.example/c/8f3a9c2e71d4b5a6e0?u=https%3A%2F%2Fshop.brand.example%2Flogin'), rules)).toBeNull();
    expect(neededLink(click('https://click.mail.brand.example/c/8f3a9c2e71d4b5a6e0?u=https%3A%2F%2Fshop.brand.example%2Fsale&next=%2Funsubscribe'), rules)).toBeNull();
  });

  it('knows which short link texts only point at their sentence', () => {
    for (const t of ['hier', 'HIER', 'Click here', 'cliquez ici', '» ', '', 'こちら', 'klikněte zde']) expect(table.pointsAway(t), t).toBe(true);
    for (const t of ['Jetzt kaufen', 'Shop now', 'here and there', 'Website', 'Impressum']) expect(table.pointsAway(t), t).toBe(false);
    for (const t of ORDINARY) expect(table.pointsAway(t), t).toBe(false);
  });

  it('refuses a label parameter that is not a lower-case name or prefix', () => {
    const base = 'phrases: [{text: unsubscribe, lang: en, kind: unsubscribe}]\npaths: []\nurls: []\n';
    expect(() => compileNeededLinks(`${base}labelParams: ['UTM_*']\n`)).toThrow(/labelParams\.0/);
  });

  it('folds case, diacritics and letters NFKD keeps', () => {
    expect(foldText('Wypisz SIĘ — Łódź, Ærø, Straße!')).toBe('wypisz sie lodz aero strasse');
  });
});
