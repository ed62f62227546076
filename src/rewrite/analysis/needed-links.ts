/**
 * Links the recipient needs (unsubscribe, preferences, view online, list pages, sign-in and
 * reset flows) are protected before anything else looks at them: by their visible text in any
 * of the table's languages, by words and shapes in the URL, and by the destination a known
 * wrapper carries. The recognition itself is the data table in protect/needed-links.yaml.
 */
import iconv from 'iconv-lite';
import type { Candidate } from '../detectors/types.js';
import { httpUrl, resolveDestination } from '../links.js';
import { loadNeededLinks, type Needed, type NeededLinks } from '../protect/needed-links.js';
import type { RuleSet } from '../rules/types.js';
import type { Analyser, Hint } from './types.js';
import { carriedDestination } from './url-shape.js';

/**
 * Link text as people read it. Detectors see ASCII-compatible parts one char per byte; words
 * outside ASCII need the part's charset (UTF-8 when undeclared or mislabelled as ASCII and the
 * bytes are valid UTF-8).
 */
function readableText(text: string, charset: string | null): string {
  if (charset === null || !/[\x80-\xff]/.test(text) || /[^\x00-\xff]/.test(text)) return text;
  const bytes = Buffer.from(text, 'latin1');
  const named = charset.replace(/^(us-?ascii|ascii|utf-?8|unknown-8bit|x-unknown)$/, 'utf-8');
  if (named === 'utf-8') {
    const utf8 = bytes.toString('utf8');
    return utf8.includes('\ufffd') ? text : utf8;
  }
  return iconv.encodingExists(named) ? iconv.decode(bytes, named) : text;
}

/**
 * The answer per candidate, for the message's lifetime: five analysers ask about every link, and
 * the destination behind a redirect costs a rule match and a decode each time.
 */
const answers = new WeakMap<Candidate, { rules: RuleSet; table: NeededLinks; charset: string | null; needed: Needed | null }>();

/** Why this link must keep working, or null. Pure; the one function every caller uses. */
export function neededLink(c: Candidate, rules: RuleSet, table: NeededLinks = loadNeededLinks(), charset: string | null = null): Needed | null {
  if (c.kind !== 'click' || c.technique === 'a-ping') return null;
  const known = answers.get(c);
  if (known && known.rules === rules && known.table === table && known.charset === charset) return known.needed;
  const needed = judge(c, rules, table, charset);
  answers.set(c, { rules, table, charset, needed });
  return needed;
}

function judge(c: Candidate, rules: RuleSet, table: NeededLinks, charset: string | null): Needed | null {
  const text = c.linkText ? readableText(c.linkText, charset) : '';
  const byText = text ? table.byText(text) : null;
  if (byText) return byText;
  // "Um sich abzumelden, klicken Sie hier": a text that only points is read with its sentence
  if (c.context && table.pointsAway(text)) {
    // plain text gives the lines above the URL: the last one with words is what the URL answers
    const lines = readableText(c.context, charset).split('\n');
    const sentence = lines.reverse().find((l) => /[\p{L}\p{N}]/u.test(l)) ?? '';
    const bySentence = sentence ? table.byText(sentence) : null;
    if (bySentence) return { kind: bySentence.kind, evidence: `sentence around the link: ${bySentence.evidence.replace(/^link text /, '')}` };
  }
  const byUrl = table.byUrl(c.url);
  if (byUrl) return byUrl;
  // A redirect is judged by the page it delivers to, read as a URL of its own (its words never
  // count from the tracker's query): a wrapper around an unsubscribe page needs the URL as
  // written, since the page may want what the wrapper adds. A sign-in, reset or verification
  // destination works as well unwrapped (its token is in the destination), so it keeps nothing.
  const url = httpUrl(c.url);
  if (!url) return null;
  const dest = rules.matchUrl(url, 'click') ? resolveDestination(url, rules) : carriedDestination(url);
  const byDest = dest ? table.byUrl(dest) : null;
  if (byDest && byDest.kind !== 'transactional') return { kind: byDest.kind, evidence: `destination: ${byDest.evidence}` };
  return null;
}

export const neededLinksAnalyser: Analyser = {
  id: 'needed-links',
  analyse(view) {
    const out = new Map<Candidate, Hint>();
    const table = loadNeededLinks();
    for (const { candidate, charset } of view.candidates) {
      const needed = neededLink(candidate, view.ctx.rules, table, charset);
      if (needed) out.set(candidate, { protect: `${needed.kind} link (${needed.evidence})` });
    }
    return out;
  },
};
