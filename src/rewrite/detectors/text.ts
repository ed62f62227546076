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
      out.push({ kind: 'click', technique: 'text-link', url, remove: { start, end }, removeAction: 'neutralise-link', slot: { start, end, quote: null, ampEntity: false }, linkText: lineBefore(text, start) });
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
