/**
 * Redirectors without a vendor list. Sender systems put their click tracking on their customers'
 * own domains (`news.<brand>/go/<token>`, `r.<brand>/tr/cl/<token>`, `<brand>/c/<n>/<recipient>`),
 * so no host list keeps up; what they cannot hide is the shape: many links of one message share a
 * host and path template and differ only in opaque tokens. A shop's product links share a template
 * too, but their varying part is a readable slug or a number, not a token; a document host's links
 * vary in tokens but their paths are words ("/document/d/<id>/edit"), not redirect vocabulary.
 *
 * A template is a redirector when its links vary in an opaque position and something else says
 * "redirect": path words of redirect vocabulary (go, c, click, tr, cl, ss, ...), a mail-system host
 * label (news., link., r., epost., ...), a carried destination in one of its links, link text
 * naming another site, an opaque token constant over the template (a recipient id), or the
 * unsubscribe link going through it. Each link through it is unwrapped when its destination is
 * recoverable offline, otherwise neutralised.
 */
import { redactSegment } from '../../audit/redact.js';
import type { Candidate } from '../detectors/types.js';
import { stripParams } from '../links.js';
import { loadNeededLinks } from '../protect/needed-links.js';
import { neededLink } from './needed-links.js';
import type { Analyser, Hint, MessageView } from './types.js';
import { carriedDestination, sameSite, shapeOf, shapeOfCandidate, sitesInText, type UrlShape } from './url-shape.js';
import { listUnsubscribeUrls } from './list-unsubscribe.js';

/** Path words click trackers use; a template whose words are all from here (or 1-2 chars) reads as a redirect endpoint. */
const REDIRECT_WORDS = new Set([
  'go',
  'goto',
  'click',
  'clicks',
  'c',
  'cl',
  'l',
  'ls',
  'lt',
  'link',
  'links',
  'r',
  'redir',
  'redirect',
  'redirects',
  'rd',
  'tr',
  'track',
  'tracking',
  'trk',
  't',
  'ss',
  'wf',
  'u',
  'e',
  'd',
  'out',
  'outbound',
  'mpss',
  'ct',
  'lnk',
  'url',
  'urls',
  'x',
  'y',
  'z',
  'f',
  'a',
  'b',
  'v',
  'api',
  'v1',
  'v2',
  'v3',
  'email',
  'mail',
  'mailing',
  'newsletter',
  'nl',
  'public',
  'external',
  'ext',
  'hit',
  'cta',
  'forward',
  'fwd',
  'jump',
  'visit',
  'pub',
  'cgi-bin',
  'lists',
  'index.php',
  'c.php',
  'r.php',
  'lt.php',
  'click.php',
  'redirect.php',
]);

/** First host labels of mail-system subdomains. */
const MAIL_HOST_LABEL =
  /^(news|newsletter|newsletters|nl|link|links|lnk|click|clicks|clk|r|t|e|em|email|emails|mail|mailing|mailings|m|go|trk|track|tracking|epost|post|info|url\d*|email\d*|mkt|marketing|campaign|campaigns|edm|ml|list|lists|ct|cl|tr|s\d*|u\d+|o\d*|mta|send|sendy|mailer)$/i;

interface Member {
  readonly candidates: Candidate[];
  readonly shape: UrlShape;
  readonly text: string;
  /** A copy of this link is one the recipient needs (unsubscribe, preferences, ...). */
  needed: boolean;
}

interface Group {
  readonly members: Map<string, Member>;
}

function redirectorEvidence(group: readonly Member[], unsubscribe: ReadonlySet<string>): string[] | null {
  const size = group.length;
  if (size < 2) return null;
  // positions present in every member, with the distinct values seen
  const byKey = new Map<string, { values: Set<string>; opaque: number; number: number }>();
  for (const m of group) {
    for (const p of m.shape.positions) {
      let e = byKey.get(p.key);
      if (!e) {
        e = { values: new Set(), opaque: 0, number: 0 };
        byKey.set(p.key, e);
      }
      e.values.add(p.value);
      if (p.shape === 'opaque') e.opaque++;
      else if (p.shape === 'number') e.number++;
    }
  }
  let varyingOpaque = false;
  let varyingNumber = false;
  let constantOpaque = false;
  for (const e of byKey.values()) {
    if (e.opaque >= 2 && e.values.size >= 2) varyingOpaque = true;
    if (e.number >= 2 && e.values.size >= 2) varyingNumber = true;
    if (e.opaque === size && e.values.size === 1) constantOpaque = true;
  }
  if (!varyingOpaque && !(varyingNumber && constantOpaque)) return null;
  const first = group[0]!.shape;
  const evidence: string[] = [];
  const literals = first.literals;
  if (literals.length && literals.every((w) => REDIRECT_WORDS.has(w) || w.length <= 2)) evidence.push(`path words ${literals.join('/')}`);
  const label = first.url.hostname.split('.')[0] ?? '';
  if (first.url.hostname.split('.').length > 2 && MAIL_HOST_LABEL.test(label)) evidence.push(`mail-system host label ${label}.`);
  if (group.some((m) => carriedDestination(m.shape.url) !== null)) evidence.push('a link carries its destination');
  if (group.some((m) => sitesInText(m.text).some((h) => !sameSite(h, m.shape.url.hostname)))) evidence.push('link text names another site');
  if (constantOpaque) evidence.push('an opaque token is the same in every link');
  if (group.some((m) => unsubscribe.has(m.shape.url.href) || m.needed)) evidence.push('the unsubscribe link goes through it');
  // varying numbers alone (shop article ids) need the template itself to read as a redirect
  if (!varyingOpaque && !evidence.some((e) => e.startsWith('path words') || e.startsWith('mail-system'))) return null;
  const needed = size >= 3 ? 1 : 2;
  return evidence.length >= needed ? evidence : null;
}

/** The template for the note (it goes into the audit row): host, path words redacted as URLs are, parameter names; never a value. */
function describe(template: string): string {
  const q = template.indexOf('?');
  const [host, ...segs] = template.slice(0, q).split('/');
  const names = template.slice(q + 1);
  return `${host}/${segs.map((s) => (s === '*' || s === '#' ? s : redactSegment(s))).join('/')}${
    names
      ? `?${names
          .split('&')
          .map((n) => (n === '*' || n === '#' ? n : redactSegment(n)))
          .join('&')}`
      : ''
  }`;
}

export const redirectorAnalyser: Analyser = {
  id: 'redirectors',
  analyse(view: MessageView) {
    const out = new Map<Candidate, Hint>();
    const { ctx } = view;
    const groups = new Map<string, Group>();
    const table = loadNeededLinks();
    for (const { candidate: c, charset } of view.candidates) {
      if (c.kind !== 'click' || c.technique === 'a-ping') continue;
      const shape = shapeOfCandidate(c);
      if (!shape) continue;
      const needed = neededLink(c, ctx.rules, table, charset) !== null;
      let g = groups.get(shape.template);
      if (!g) {
        g = { members: new Map() };
        groups.set(shape.template, g);
      }
      const key = shape.url.href;
      const m = g.members.get(key);
      if (m) {
        m.candidates.push(c);
        m.needed ||= needed;
      } else g.members.set(key, { candidates: [c], shape, text: c.linkText ?? '', needed });
    }
    const unsubscribe = new Set(listUnsubscribeUrls([...view.headers.get('list-unsubscribe')]).map((u) => shapeOf(u)?.url.href ?? u));
    for (const [template, g] of groups) {
      const members = [...g.members.values()];
      const evidence = redirectorEvidence(members, unsubscribe);
      if (!evidence) continue;
      const why = `${members.length} links share the template ${describe(template)}; ${evidence.join('; ')}`;
      for (const m of members) {
        if (ctx.rules.matchUrl(m.shape.url, 'click')) continue; // the vendor rule knows it better
        const dest = carriedDestination(m.shape.url);
        for (const c of m.candidates) {
          if (dest) {
            const cleaned = table.byUrl(dest) ? dest : stripParams(dest, ctx.rules, ctx.needles, ctx.policy.keepCampaignParams).url;
            out.set(c, { verdict: { ruleId: 'heuristic.redirector', vendor: null, technique: c.technique, destination: cleaned, note: `redirector unwrapped offline: ${why}` } });
          } else {
            out.set(c, { verdict: { ruleId: 'heuristic.redirector', vendor: null, technique: c.technique, destination: null, note: `opaque redirect: ${why}` } });
          }
        }
      }
    }
    return out;
  },
};
