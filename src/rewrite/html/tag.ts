/**
 * One start tag as parse5 read it, with the source spans edits need. parse5 gives each attribute's
 * span (name to end of value); the quote and the value's own span are read from that span, which
 * holds exactly one attribute as the HTML tokenizer delimited it. Values are parse5's: character
 * references decoded as browsers decode them, the first of duplicate attributes kept.
 */
import type { DefaultTreeAdapterMap } from 'parse5';

type Element = DefaultTreeAdapterMap['element'];

export interface AttrSpan {
  /** Lower-cased attribute name as written (foreign attributes keep their prefix: "xlink:href"). */
  readonly name: string;
  /** Start of the whitespace before the name: removing [start, end) removes the attribute cleanly. */
  readonly start: number;
  readonly end: number;
  /** Absent for valueless attributes. */
  readonly value?: {
    readonly start: number;
    readonly end: number;
    /** The source text of the value, references not decoded. */
    readonly raw: string;
    readonly quote: string;
    /** The value the client sees (references decoded, NUL replaced, newlines normalised). */
    readonly decoded: string;
  };
}

export interface StartTag {
  /** Lower-cased local name (SVG's feImage is "feimage"). */
  readonly name: string;
  readonly start: number;
  /** Position just after the closing ">" of the start tag. */
  readonly end: number;
  readonly attrs: readonly AttrSpan[];
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;

/**
 * The start tag of an element parse5 created from source, offsets shifted by `base` (the position of
 * the parsed fragment in the part). Null for elements the parser implied (html, tbody, a <p> for a
 * stray </p>), which have no start tag of their own in the source.
 */
export function startTagOf(src: string, el: Element, base: number): StartTag | null {
  const loc = el.sourceCodeLocation?.startTag;
  if (!loc) return null;
  const start = base + loc.startOffset;
  if (src.charCodeAt(start) !== 0x3c || src.charCodeAt(start + 1) === 0x2f) return null;
  const spans = el.sourceCodeLocation?.attrs ?? {};
  const attrs: AttrSpan[] = [];
  for (const a of el.attrs) {
    const name = (a.prefix ? `${a.prefix}:${a.name}` : a.name).toLowerCase();
    const at = spans[name];
    if (!at) continue;
    attrs.push(attrSpan(src, name, base + at.startOffset, base + at.endOffset, a.value));
  }
  return { name: el.tagName.toLowerCase(), start, end: base + loc.endOffset, attrs };
}

function attrSpan(src: string, name: string, from: number, to: number, decoded: string): AttrSpan {
  let start = from;
  while (start > 0 && isSpace(src.charCodeAt(start - 1))) start--;
  // the name ends at the first blank or "=" after its first character ("=" may start a name)
  let i = from + 1;
  while (i < to && src[i] !== '=' && !isSpace(src.charCodeAt(i))) i++;
  while (i < to && isSpace(src.charCodeAt(i))) i++;
  if (src[i] !== '=') return { name, start, end: to };
  i++;
  while (i < to && isSpace(src.charCodeAt(i))) i++;
  const q = src[i];
  if ((q === '"' || q === "'") && to > i) {
    const vEnd = src[to - 1] === q && to - 1 > i ? to - 1 : to;
    return { name, start, end: to, value: { start: i + 1, end: vEnd, raw: src.slice(i + 1, vEnd), quote: q, decoded } };
  }
  return { name, start, end: to, value: { start: i, end: to, raw: src.slice(i, to), quote: '', decoded } };
}

export function attr(tag: StartTag, name: string): AttrSpan | undefined {
  return tag.attrs.find((a) => a.name === name);
}
