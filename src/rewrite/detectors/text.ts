/**
 * text/plain detector: URLs written out in plain text. Clients linkify them, so a tracked redirect
 * there is as much a click tracker as an <a href>.
 */
import type { Candidate, DetectContext, Detector } from './types.js';

// Stops at whitespace, angle brackets and quotes; trailing punctuation is trimmed below.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

export const TEXT_REPLACEMENT = '[tracked link removed]';

export const textDetector: Detector = {
  id: 'text',
  contentTypes: ['text/plain'],
  detect(text: string, _ctx: DetectContext): Candidate[] {
    const out: Candidate[] = [];
    for (const m of text.matchAll(URL_RE)) {
      const url = trimTrailing(m[0]);
      const start = m.index;
      const end = start + url.length;
      const linkText = lineBefore(text, start);
      const context = linkText.trim().length <= SHORT_LINK_TEXT ? linesBefore(text, start - linkText.length) : undefined;
      out.push({
        kind: 'click',
        technique: 'text-link',
        url,
        remove: { start, end },
        removeAction: 'neutralise-link',
        slot: { start, end, quote: null, ampEntity: false },
        linkText,
        ...(context ? { context } : {}),
      });
    }
    return out;
  },
};

function trimTrailing(url: string): string {
  // counted once: trimming one character at a time and recounting was quadratic
  let open = 0;
  let close = 0;
  let openSq = 0;
  let closeSq = 0;
  for (const c of url) {
    if (c === '(') open++;
    else if (c === ')') close++;
    else if (c === '[') openSq++;
    else if (c === ']') closeSq++;
  }
  let end = url.length;
  for (;;) {
    const last = url[end - 1];
    if (last && '.,;:!?*'.includes(last)) end--;
    else if (last === ')' && open < close) {
      close--;
      end--;
    } else if (last === ']' && openSq < closeSq) {
      closeSq--;
      end--;
    } else return url.slice(0, end);
  }
}

function lineBefore(text: string, at: number): string {
  const from = Math.max(0, at - 80);
  const chunk = text.slice(from, at);
  const nl = chunk.lastIndexOf('\n', chunk.length - 2);
  return nl < 0 ? chunk : chunk.slice(nl + 1);
}

/** A line this short before a URL may say nothing by itself ("» ", "Link:"): the lines above are kept too. */
const SHORT_LINK_TEXT = 24;

/**
 * The lines above a URL that sits on a line of its own ("Zur Webseitenansicht\n» https://..."):
 * up to 240 characters, not past another URL. Which of them has words is decided where the
 * part's charset is known (analysis/needed-links.ts): here the text is one char per byte.
 */
function linesBefore(text: string, lineStart: number): string | undefined {
  let chunk = text.slice(Math.max(0, lineStart - 240), lineStart);
  const lastUrl = Math.max(chunk.lastIndexOf('http://'), chunk.lastIndexOf('https://'));
  if (lastUrl >= 0) chunk = chunk.slice(chunk.indexOf('\n', lastUrl) + 1 || chunk.length);
  return chunk.trim() ? chunk : undefined;
}
