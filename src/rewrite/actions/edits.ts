/**
 * Actions: turn a decided action into an edit of the part text, and apply edits. Edits replace
 * exact source spans; nothing outside them moves.
 */
import type { Action, Edit } from '../types.js';
import type { Candidate } from '../detectors/types.js';
import type { Verdict } from '../types.js';
import { encodeAttribute } from '../html/entities.js';
import { TEXT_REPLACEMENT } from '../detectors/text.js';

/** `link`: for gate-link and ask-link, the URL the relay's HTTP side made for this tracker. */
export function editFor(c: Candidate, v: Verdict, action: Action, link?: string): Edit | null {
  switch (action) {
    case 'keep':
    case 'remove-header': // headers are edited by the engine on the node, not in part text
      return null;
    case 'remove-element':
    case 'remove-attribute':
    case 'drop-declaration':
      return { start: c.remove.start, end: c.remove.end, text: '' };
    case 'neutralise-link':
      return c.slot && c.slot.quote === null ? { start: c.slot.start, end: c.slot.end, text: TEXT_REPLACEMENT } : { start: c.remove.start, end: c.remove.end, text: '' };
    case 'unwrap-link':
      return urlEdit(c, v.destination ?? null);
    case 'strip-params':
      return urlEdit(c, v.cleaned ?? null);
    case 'gate-link':
    case 'ask-link':
      return urlEdit(c, link ?? null);
  }
}

function urlEdit(c: Candidate, url: string | null): Edit | null {
  if (!c.slot || url === null) return null;
  const { quote, ampEntity } = c.slot;
  if (quote === null) return { start: c.slot.start, end: c.slot.end, text: url };
  let text = encodeAttribute(url, quote, ampEntity);
  // an unquoted attribute value cannot hold spaces or ">"; quote it
  if (quote === '' && /[\s>"'=<`]/.test(text)) text = `"${encodeAttribute(url, '"', ampEntity)}"`;
  return { start: c.slot.start, end: c.slot.end, text };
}

/**
 * Apply edits to text. Overlaps are resolved outer-first: an edit inside a span that is already
 * being replaced (an attribute of a removed element) is dropped.
 */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  if (!edits.length) return text;
  const sorted = [...edits].sort((a, b) => a.start - b.start || b.end - a.end);
  const parts: string[] = [];
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) continue;
    parts.push(text.slice(pos, e.start), e.text);
    pos = e.end;
  }
  parts.push(text.slice(pos));
  return parts.join('');
}
